import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { usdToNanos } from '../../src/cost/compute.js';
import { bundledPrices } from '../../src/cost/load-prices.js';
import { Pricer } from '../../src/cost/pricer.js';
import type { Respool } from '../../src/index.js';
import { testPrefix } from '../helpers/cli.js';
import { withLibrary } from '../helpers/library.js';

/** `rp.report(files, { by: 'tier' })` (`respool report --by tier`) over a results file whose lines were served at several tiers. */
describe('report --by tier', () => {
  let rp: Respool;
  let dir: string;
  withLibrary(testPrefix(), (s) => ({ rp, dir } = s));

  it('groups the lines by the tier that served them and shows what each tier saved against the standard price', async () => {
    const pricer = new Pricer(await bundledPrices());
    // The tier each line was served at, as the worker and the batch collector price them.
    const tiers = ['default', 'flex', 'batch', 'batch', 'flex', undefined, 'priority', 'batch'];
    const expected = new Map<string, { cost: number; standard: number; lines: number }>();
    const lines = tiers.map((tier, i) => {
      const usage = { input_tokens: 1000 + i * 100, output_tokens: 200 + i * 10, total_tokens: 1200 + i * 110 };
      const model = 'gpt-5';
      const cost = pricer.costOf(model, usage, tier)!;
      const name = cost.tier!;
      const e = expected.get(name) ?? { cost: 0, standard: 0, lines: 0 };
      e.cost += usdToNanos(cost.total);
      e.standard += usdToNanos(cost.standard_total ?? cost.total);
      e.lines++;
      expected.set(name, e);
      return { custom_id: `i${i}`, status: 'completed', model, usage, run: 'tiers', finished_at: '2026-12-04T10:00:00.000Z', ...(tier ? { service_tier: tier } : {}), cost };
    });
    lines.push({ custom_id: 'bad', status: 'rejected', model: 'gpt-5', usage: null, run: 'tiers', finished_at: '2026-12-04T10:00:00.000Z', cost: null } as never);
    const file = path.join(dir, 'tiers.jsonl');
    await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

    const r = JSON.parse(await rp.report(['tiers.jsonl'], { by: 'tier', format: 'json' })) as {
      total: { cost_nanos: number; standard_cost_nanos: number; saved_nanos: number };
      breakdowns: Array<{ by: string[]; groups: Array<{ key: { tier: string }; lines: number; cost_nanos: number; standard_cost_nanos: number; saved_nanos: number }> }>;
    };
    const groups = Object.fromEntries(r.breakdowns[0]!.groups.map((g) => [g.key.tier, g]));
    assert.deepEqual(Object.keys(groups).sort(), ['(none)', 'batch', 'flex', 'priority', 'standard']);
    for (const [tier, e] of expected) {
      assert.equal(groups[tier]!.lines, e.lines, tier);
      assert.equal(groups[tier]!.cost_nanos, e.cost, tier);
      assert.equal(groups[tier]!.standard_cost_nanos, e.standard, tier);
    }
    // The bundled gpt-5 batch and flex prices are half the standard ones; priority costs double.
    assert.ok(Math.abs(groups['batch']!.saved_nanos * 2 - groups['batch']!.standard_cost_nanos) <= 4);
    assert.ok(Math.abs(groups['flex']!.saved_nanos * 2 - groups['flex']!.standard_cost_nanos) <= 4);
    assert.ok(groups['priority']!.saved_nanos < 0);
    assert.equal(groups['standard']!.saved_nanos, 0);
    const totalSaved = [...expected.values()].reduce((n, e) => n + e.standard - e.cost, 0);
    assert.equal(r.total.saved_nanos, totalSaved);

    const table = await rp.report([file], { by: 'tier', format: 'table' });
    assert.match(table, /^9 lines in 1 file, cost \$[\d.]+\nSaved \$[\d.]+ \(\d+%\) against the standard price of \$[\d.]+\n/);
    assert.match(table, /By tier\ntier\s+lines.*standard_cost_usd\s+saved_usd/);

    const html = await rp.report([file], { by: 'tier', format: 'html' });
    assert.match(html, /id="cost-per-tier"/);
    assert.match(html, /Saved vs standard/);
  });
});
