import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import path from 'node:path';
import type { FakeServer } from '../../src/fake-server/index.js';
import { openRespool, type Job, type Respool } from '../../src/index.js';
import { countIds, REDIS_URL, runCli, testPrefix } from '../helpers/cli.js';
import { recordingLogger } from '../helpers/logger.js';
import { dumpPrefix } from '../helpers/redis-scan.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, withLibrary } from '../helpers/library.js';

const RIGHT_KEY = 'sk-right-3f9a7c1e5b2d4f6a';
const WRONG_KEY = 'sk-wrong-8e1d2c3b4a5f6e7d';

describe('run: the API key', () => {
  let fake: FakeServer;
  let rp: Respool;
  let dir: string;
  let messages: string[];
  const prefix = testPrefix();
  const ITEMS = 400;

  // The fake server requires RIGHT_KEY; the suite's library sends it.
  withLibrary(prefix, (s) => ({ fake, dir, rp, messages } = s), { apiKey: RIGHT_KEY, latencyMs: 20 });
  before(async () => {
    await writeFile(path.join(dir, 'in.jsonl'), Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ custom_id: `k${i}`, prompt: `item ${i}` })).join('\n') + '\n');
  });

  const job = (): Job => ({ name: 'auth', inputs: 'in.jsonl', model: 'm', base_url: fake.url, out: 'out.jsonl', concurrency: 4 });

  it('a refused key stops the whole run after a handful of calls, and says why', async () => {
    const { log, messages: wrongKeyMessages } = recordingLogger();
    const wrong = await openRespool({ redis: REDIS_URL, prefix, apiKey: WRONG_KEY, cwd: dir, logger: log });
    try {
      const { result } = await runJob(wrong, job());
      assert.equal(result.outcome, 'stopped');
      assert.equal(result.stopKind, 'key_refused');
      assert.match(result.stopReason ?? '', /API key was refused/);
      assert.equal(result.failedLines, 0);
      assert.equal(result.totals.lines, 0);
    } finally {
      await wrong.close();
    }
    const calls = fake.stats().requests;
    assert.ok(calls >= 1 && calls <= 8, `calls made with the refused key: ${calls} (concurrency 4)`);
    // No item was written as failed: the run is stopped, not finished.
    const written = await readFile(path.join(dir, 'out.jsonl'), 'utf8').catch(() => '');
    assert.equal(written, '');
    assert.ok(wrongKeyMessages.some((m) => /API key was refused/.test(m)), wrongKeyMessages.join('\n'));
    assert.ok(wrongKeyMessages.every((m) => !m.includes(WRONG_KEY)), 'the key reached a log message');
  });

  it('running again with the right key finishes the run, every item exactly once', async () => {
    fake.reset();
    const { result, lines } = await runJob(rp, job());
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    const counts = countIds(lines);
    assert.equal(counts.size, ITEMS);
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.ok(lines.every((l) => l.status === 'completed'));
    assert.equal(fake.stats().requests, ITEMS);
    assert.ok(messages.every((m) => !m.includes(RIGHT_KEY)), 'the key reached a log message');
  });

  it('neither key is stored in Redis or in the results file', async () => {
    const text = await readFile(path.join(dir, 'out.jsonl'), 'utf8');
    for (const key of [RIGHT_KEY, WRONG_KEY]) assert.ok(!text.includes(key));
    const dump = await dumpPrefix(prefix);
    assert.ok(dump.size > 0, 'the run left its ledger and settings in Redis');
    for (const [k, v] of dump) for (const key of [RIGHT_KEY, WRONG_KEY]) assert.ok(!v.includes(key), `${k} holds the key`);
  });
});

describe('run: the API key (command line)', () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  withFakeServer(prefix, (s) => ({ fake, dir } = s), { apiKey: RIGHT_KEY });

  it('a refused key exits 3 saying so, and the key is never printed, even at --log-level debug', async () => {
    const input = path.join(dir, 'cli.jsonl');
    await writeFile(input, Array.from({ length: 20 }, (_, i) => JSON.stringify({ custom_id: `c${i}`, prompt: `item ${i}` })).join('\n') + '\n');
    const res = await runCli(['--prefix', prefix, '--log-level', 'debug', 'run', '--name', 'auth-cli', '--input', input, '--model', 'm', '--base-url', fake.url, '--out', path.join(dir, 'cli.out.jsonl'), '--concurrency', '4'], {
      env: { OPENRESPONSES_API_KEY: WRONG_KEY },
    });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /API key was refused/);
    assert.ok(!res.stderr.includes(WRONG_KEY) && !res.stdout.includes(WRONG_KEY), 'the key is never printed');
  });
});
