import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import path from 'node:path';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Job, Respool } from '../../src/index.js';
import { jobIdFor } from '../../src/queue/keys.js';
import { numberedIds, writePrompts } from '../helpers/prompts.js';
import { countIds, testPrefix } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';

describe('run: API faults', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;

  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));

  const run = (name: string, input: string, extra: Partial<Job> = {}) =>
    runJob(rp, {
      name, inputs: input, model: 'test-model', base_url: fake.url, out: `${name}.jsonl`, concurrency: 8, backoff_ms: 20,
      // A known (high) limit: these 429s are injected faults, not a rate to learn (see pipeline-limits).
      rpm: 100000, ...extra,
    });

  it('429 (with Retry-After) then 500 on every item: retried, the 429 does not use an attempt, one line each', async () => {
    const ids = numberedIds('f', 30);
    const input = await writePrompts(path.join(dir, 'in-first.jsonl'), ids.map((id) => [id, `question ${id}`]));
    fake.reset();
    fake.setOptions({ faults: { failFirst: 2, failKinds: ['429', '500'], retryAfterMs: 50 } });
    // A short backoff base keeps the test quick; Retry-After still decides the wait after a 429.
    // Two attempts are enough: with a third call per item, this proves the 429 did not use one.
    const { result, lines } = await run('fail-first', input, { attempts: 2 });
    fake.setOptions({ faults: {} });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    assert.deepEqual([...countIds(lines).keys()].sort(), [...ids].sort());
    for (const l of lines) {
      assert.equal(l.status, 'completed', JSON.stringify(l));
      assert.equal(l.attempts, 2, 'the 500, then the successful call; the 429 is not an attempt');
      assert.equal(l.rate_limited, 1);
    }
    const stats = fake.stats();
    assert.equal(stats.byStatus['429'], 30);
    assert.equal(stats.byStatus['500'], 30);
    // The Idempotency-Key is the job id: every item was called exactly three times.
    for (const id of ids) assert.equal(stats.byKey[jobIdFor('fail-first', id)], 3, id);
  });

  it('random resets, truncated bodies, 429s and 500s: every item ends with exactly one line', async () => {
    const ids = numberedIds('r', 120);
    const input = await writePrompts(path.join(dir, 'in-random.jsonl'), ids.map((id) => [id, `random ${id}`]));
    fake.reset();
    fake.setOptions({ faults: { rate429: 0.1, rate500: 0.1, rateReset: 0.1, rateTruncate: 0.1, seed: 7, retryAfterMs: 20 } });
    const { result, lines } = await run('random', input, { attempts: 10 });
    fake.setOptions({ faults: {} });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    const counts = countIds(lines);
    assert.equal(counts.size, ids.length);
    assert.ok([...counts.values()].every((n) => n === 1));
    const stats = fake.stats();
    assert.ok(stats.resets > 0 && stats.truncated > 0, `faults were injected: ${JSON.stringify({ resets: stats.resets, truncated: stats.truncated })}`);
    // With 40% faults and 10 attempts an item failing every time is (0.4)^10: all should complete.
    assert.ok(lines.every((l) => l.status === 'completed'), JSON.stringify(lines.filter((l) => l.status !== 'completed')));
    const retried = lines.filter((l) => l.attempts > 1);
    assert.ok(retried.length > 0);
  });

  it('a 400 is not retried; a 500 on every attempt ends as failed with the last error', async () => {
    const input = await writePrompts(path.join(dir, 'in-hard.jsonl'), [
      ['bad', 'this one is refused [[status:400]]'],
      ['down', 'this one always fails [[status:500]]'],
      ['ok', 'this one works'],
      ['cut', 'this one is cut short [[incomplete]]'],
      ['no', 'this one is refused by the model [[refuse]]'],
    ]);
    fake.reset();
    const { result, lines } = await run('hard', input, { attempts: 3 });
    // Complete, with failed and incomplete lines (what the command line exits 5 for, naming them).
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 3);
    assert.deepEqual(result.unsuccessful, { total: 3, byStatus: { failed: 2, incomplete: 1, invalid_output: 0 } });
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    assert.equal(byId.get('bad')?.status, 'failed');
    assert.equal(byId.get('bad')?.error?.type, 'invalid_request');
    assert.equal(byId.get('bad')?.error?.status, 400);
    assert.equal(byId.get('bad')?.attempts, 1);
    assert.equal(fake.stats().byKey[jobIdFor('hard', 'bad')], 1);
    assert.equal(byId.get('down')?.status, 'failed');
    assert.equal(byId.get('down')?.error?.type, 'server_error');
    assert.equal(byId.get('down')?.attempts, 3);
    assert.equal(fake.stats().byKey[jobIdFor('hard', 'down')], 3);
    assert.equal(byId.get('ok')?.status, 'completed');
    assert.equal(byId.get('cut')?.status, 'incomplete');
    assert.equal(byId.get('cut')?.error?.message, 'max_output_tokens');
    assert.ok(byId.get('cut')?.output_text, 'partial text kept');
    assert.equal(byId.get('no')?.status, 'completed');
    assert.ok(byId.get('no')?.refusal);
  });
});
