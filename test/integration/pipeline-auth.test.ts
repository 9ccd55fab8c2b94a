import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import { startFakeServer, type FakeServer } from '../../src/fake-server/index.js';
import { countIds, readLines, runCli, tempDir, testPrefix } from '../helpers/cli.js';
import { deletePrefix, dumpPrefix } from '../helpers/redis-scan.js';

const RIGHT_KEY = 'sk-right-3f9a7c1e5b2d4f6a';
const WRONG_KEY = 'sk-wrong-8e1d2c3b4a5f6e7d';

describe('respool run: the API key', () => {
  let fake: FakeServer;
  const prefix = testPrefix();
  let dir: string;
  let input: string;
  const ITEMS = 400;

  before(async () => {
    fake = await startFakeServer({ apiKey: RIGHT_KEY, latencyMs: 20 });
    dir = await tempDir();
    input = path.join(dir, 'in.jsonl');
    await writeFile(input, Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ custom_id: `k${i}`, prompt: `item ${i}` })).join('\n') + '\n');
  });
  after(async () => {
    await fake.close();
    await deletePrefix(prefix);
  });

  const run = (key: string) =>
    runCli(['--prefix', prefix, '--log-level', 'debug', 'run', '--name', 'auth', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', path.join(dir, 'out.jsonl'), '--concurrency', '4'], {
      env: { OPENRESPONSES_API_KEY: key },
    });

  it('a refused key stops the whole run after a handful of calls, and says so', async () => {
    const res = await run(WRONG_KEY);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /API key was refused/);
    const calls = fake.stats().requests;
    assert.ok(calls >= 1 && calls <= 8, `calls made with the refused key: ${calls} (concurrency 4)`);
    // No item was written as failed: the run is stopped, not finished.
    const written = await readFile(path.join(dir, 'out.jsonl'), 'utf8').catch(() => '');
    assert.equal(written, '');
    assert.ok(!res.stderr.includes(WRONG_KEY) && !res.stdout.includes(WRONG_KEY), 'the key is never printed');
  });

  it('running again with the right key finishes the run, every item exactly once', async () => {
    fake.reset();
    const res = await run(RIGHT_KEY);
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(path.join(dir, 'out.jsonl'));
    const counts = countIds(lines);
    assert.equal(counts.size, ITEMS);
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed'));
    assert.equal(fake.stats().requests, ITEMS);
    assert.ok(!res.stderr.includes(RIGHT_KEY));
  });

  it('neither key is stored in Redis or in the results file', async () => {
    const text = await readFile(path.join(dir, 'out.jsonl'), 'utf8');
    for (const key of [RIGHT_KEY, WRONG_KEY]) assert.ok(!text.includes(key));
    const dump = await dumpPrefix(prefix);
    assert.ok(dump.size > 0, 'the run left its ledger and settings in Redis');
    for (const [k, v] of dump) for (const key of [RIGHT_KEY, WRONG_KEY]) assert.ok(!v.includes(key), `${k} holds the key`);
  });
});
