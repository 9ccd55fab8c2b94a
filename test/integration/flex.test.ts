import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Respool } from '../../src/index.js';
import { jobIdFor, runKeys } from '../../src/queue/keys.js';
import { budgetKeys } from '../../src/worker/limits/budget.js';
import { assertEachIdOnce, REDIS_URL, testPrefix } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';

describe('run with mode: flex', () => {
  let fake: FakeServer;
  let rp: Respool;
  let dir: string;
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL);
  after(() => redis.quit());

  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));

  async function prompts(name: string, n: number): Promise<{ file: string; ids: string[] }> {
    const ids = Array.from({ length: n }, (_, i) => `${name}-${i}`);
    const file = path.join(dir, `${name}.jsonl`);
    await writeFile(file, ids.map((id) => JSON.stringify({ custom_id: id, prompt: `question ${id}` })).join('\n') + '\n');
    return { file, ids };
  }

  const run = async (name: string, input: string, flexFallbackMs: number) => {
    const done = await runJob(rp, { name, inputs: input, model: 'test-model', base_url: fake.url, out: `${name}.out.jsonl`, concurrency: 8, mode: 'flex', backoff_ms: 20, attempts: 2, flex_fallback_ms: flexFallbackMs });
    assert.equal(done.result.outcome, 'complete');
    assert.equal(done.result.failedLines, 0);
    return done;
  };

  /** 429s and pauses the run's budgets counted: flex's refusals must add to neither. */
  async function budgetCounts(name: string): Promise<{ n429: number; pauses: number }> {
    const ids = await redis.smembers(runKeys(name, prefix).budgets);
    assert.ok(ids.length > 0, 'the run recorded its budget');
    let n429 = 0;
    let pauses = 0;
    for (const id of ids) {
      const [a, b] = await redis.hmget(budgetKeys(prefix, id).hash, 'n_429', 'n_pause');
      n429 += Number(a ?? 0);
      pauses += Number(b ?? 0);
    }
    return { n429, pauses };
  }

  it('sends service_tier flex; items refused "resource unavailable" fall back to the default tier; one line each, no rate-limit signal', async () => {
    const { file, ids } = await prompts('half', 60);
    fake.reset();
    fake.setOptions({ faults: { flexUnavailable: 0.5, seed: 5 } });
    // No wait: an item goes at the default tier at its first refusal.
    const { lines } = await run('half', file, 0).finally(() => fake.setOptions({ faults: {} }));
    assertEachIdOnce(lines, ids);
    const stats = fake.stats();
    const refused = stats.byStatus['429'] ?? 0;
    assert.ok(refused > 0 && refused < ids.length, `some flex calls were refused (${refused})`);
    const byTier = { flex: 0, default: 0 };
    for (const l of lines) {
      assert.equal(l.status, 'completed', JSON.stringify(l));
      assert.equal(l.attempts, 1, 'a refusal uses no attempt');
      assert.equal(l.rate_limited, undefined, 'a refusal is not a 429 of the key');
      assert.ok(l.service_tier === 'flex' || l.service_tier === 'default', JSON.stringify(l));
      byTier[l.service_tier as 'flex' | 'default']++;
      // A refused item was called twice (flex, then default); the others once.
      const calls = stats.byKey[jobIdFor('half', l.custom_id)];
      assert.equal(calls, l.service_tier === 'default' ? 2 : 1, l.custom_id);
    }
    assert.equal(byTier.default, refused, 'each refused item, and only those, answered at the default tier');
    assert.deepEqual(await budgetCounts('half'), { n429: 0, pauses: 0 });
  });

  it('flex calls get flex_timeout_ms; an item that falls back to the default tier gets timeout_ms again', async () => {
    const slow = { model: 'test-model', base_url: fake.url, concurrency: 8, mode: 'flex' as const, backoff_ms: 20, attempts: 2, flex_fallback_ms: 0, timeout_ms: 1000, flex_timeout_ms: 10_000 };
    fake.reset();
    // Every answer takes 1500 ms: past timeout_ms, well within flex_timeout_ms.
    fake.setOptions({ latencyMs: 1500 });
    try {
      const flexOk = await prompts('slow-flex', 4);
      const ok = await runJob(rp, { ...slow, name: 'slow-flex', inputs: flexOk.file, out: 'slow-flex.out.jsonl' });
      assert.equal(ok.result.failedLines, 0);
      assert.ok(ok.lines.every((l) => l.status === 'completed' && l.service_tier === 'flex'), 'a flex call may take longer than timeout_ms');

      // Flex refuses every call: each item falls back at once, and the default tier is held to timeout_ms.
      fake.setOptions({ faults: { flexUnavailable: 1 } });
      const fellBack = await prompts('slow-default', 4);
      const late = await runJob(rp, { ...slow, name: 'slow-default', inputs: fellBack.file, out: 'slow-default.out.jsonl' });
      assertEachIdOnce(late.lines, fellBack.ids);
      for (const l of late.lines) {
        assert.equal(l.status, 'failed', JSON.stringify(l));
        assert.equal(l.error?.type, 'timeout');
        assert.match(l.error?.message ?? '', /after 1000 ms/);
      }
    } finally {
      fake.setOptions({ latencyMs: 0, faults: {} });
    }
  });

  it('a flex that stays unavailable is asked again with backoff, then each item goes at the default tier after flex_fallback_ms', async () => {
    const { file, ids } = await prompts('none', 12);
    fake.reset();
    fake.setOptions({ faults: { flexUnavailable: 1 } });
    const { lines } = await run('none', file, 300).finally(() => fake.setOptions({ faults: {} }));
    assertEachIdOnce(lines, ids);
    const stats = fake.stats();
    for (const l of lines) {
      assert.equal(l.status, 'completed', JSON.stringify(l));
      assert.equal(l.service_tier, 'default');
      assert.equal(l.attempts, 1);
      assert.equal(l.rate_limited, undefined);
      // Refused at least twice (asked again before the fallback), then answered once at the default tier.
      assert.ok(stats.byKey[jobIdFor('none', l.custom_id)]! >= 3, `${l.custom_id}: ${stats.byKey[jobIdFor('none', l.custom_id)]} calls`);
    }
    assert.equal(stats.byStatus['200'], ids.length, 'only the default-tier calls were answered (and billed)');
    assert.deepEqual(await budgetCounts('none'), { n429: 0, pauses: 0 });
  });
});
