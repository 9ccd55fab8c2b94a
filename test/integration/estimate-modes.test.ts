import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Job, Respool } from '../../src/index.js';
import { runCli, tempDir, testPrefix } from '../helpers/cli.js';
import { withLibrary } from '../helpers/library.js';

interface ModesJson {
  mode: string;
  costs: Array<{ mode: string; cost_usd: { low: number; high: number } | null; no_tier_price_models: string[] }>;
  online_seconds: number;
  online_bound_by: string;
  deadline: { reachable: boolean; batch_window_fits: boolean; latest_switch_at: string | null } | null;
}

const QUESTIONS = Array.from({ length: 120 }, (_, i) => JSON.stringify({ custom_id: `q${i}`, prompt: `Question ${i}: name a colour.` })).join('\n') + '\n';

/** `rp.estimate` (`respool estimate --json`) gives the cost per mode and judges an auto deadline; no API call. */
describe('estimate per mode', () => {
  let rp: Respool;
  let dir: string;
  withLibrary(testPrefix(), (s) => ({ rp, dir } = s));

  it('costs side by side, and a deadline the key cannot make online is called unreachable', async () => {
    await writeFile(path.join(dir, 'q.jsonl'), QUESTIONS);
    const base: Job = { inputs: 'q.jsonl', model: 'gpt-4.1-mini', request: { max_output_tokens: 100 }, rpm: 60, mode: 'auto' };
    const estimate = async (deadline: string) => (await rp.estimate({ ...base, deadline })).modes as ModesJson;

    // 120 calls at 60 a minute: 2 minutes online.
    const short = await estimate('90s');
    assert.equal(short.mode, 'auto');
    assert.equal(short.online_bound_by, 'rpm of gpt-4.1-mini');
    assert.equal(short.online_seconds, 120);
    assert.equal(short.deadline?.reachable, false);
    const costs = Object.fromEntries(short.costs.map((c) => [c.mode, c]));
    assert.ok(Math.abs(costs['batch']!.cost_usd!.high * 2 - costs['online']!.cost_usd!.high) < 1e-8, 'batch at half the standard price');
    assert.deepEqual(costs['flex']!.no_tier_price_models, ['gpt-4.1-mini'], 'no flex for this model');
    assert.equal(costs['auto']!.cost_usd!.high, costs['online']!.cost_usd!.high, 'a short deadline may move everything online');

    const ok = await estimate('2h');
    assert.equal(ok.deadline?.reachable, true);
    assert.ok(ok.deadline?.latest_switch_at);
    const far = await estimate('2d');
    assert.equal(far.deadline?.batch_window_fits, true);
    const farCosts = Object.fromEntries(far.costs.map((c) => [c.mode, c]));
    assert.deepEqual(farCosts['auto']!.cost_usd, farCosts['batch']!.cost_usd);
  });
});

/** What the command prints: the same figures as a table. */
describe('estimate per mode (command line)', () => {
  it('prints the cost per mode, marks the mode in use and says a deadline is not reachable', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'q.jsonl');
    await writeFile(file, QUESTIONS);
    const args = ['estimate', '--input', file, '--model', 'gpt-4.1-mini', '--max-output-tokens', '100', '--rpm', '60', '--mode', 'auto', '--deadline', '90s'];
    const table = await runCli(args);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /Cost per mode/);
    assert.match(table.stdout, /auto \*/);
    assert.match(table.stdout, /NOT reachable/);
    // --json prints what rp.estimate returns.
    const json = await runCli([...args, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { modes: ModesJson }).modes.deadline?.reachable, false);
  });
});
