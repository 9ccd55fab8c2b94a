import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobData, ReadOutcome } from '../../src/core/item.js';
import { createRedis } from '../../src/queue/connection.js';
import { bullPrefix } from '../../src/queue/keys.js';
import { enqueue, type EnqueueStats } from '../../src/queue/producer.js';
import { sleep } from '../../src/core/sleep.js';
import { REDIS_URL, waitFor } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

async function* prompts(run: string, n: number): AsyncIterable<ReadOutcome> {
  for (let i = 0; i < n; i++) {
    yield { type: 'item', item: { customId: `${run}-${i}`, source: { file: 'in.jsonl', line: i + 1 }, request: { kind: 'prompt', text: `item ${i}`, images: [] } } };
  }
}

/** Samples the waiting count until it has not changed for `quietMs`; returns the highest seen. */
async function settle(waiting: () => Promise<number>, quietMs = 600): Promise<{ last: number; max: number }> {
  let last = await waiting();
  let max = last;
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    await sleep(25);
    const now = await waiting();
    max = Math.max(max, now);
    if (now !== last) since = Date.now();
    last = now;
  }
  return { last, max };
}

describe('producer lead (real Redis, a real BullMQ worker)', { timeout: 60_000 }, () => {
  let redis: Redis;
  const prefix = `rtest-lead-${randomUUID().slice(0, 8)}`;
  before(() => {
    redis = createRedis(REDIS_URL);
  });
  after(async () => {
    await deletePrefix(prefix, redis);
    await redis.quit();
  });

  it('starts at rampFrom, grows with the jobs taken, never passes maxQueued, and adds every item once', async () => {
    const run = `lead-${randomUUID().slice(0, 8)}`;
    const queue = new Queue<JobData>(run, { connection: redis, prefix: bullPrefix(prefix) });
    const waiting = () => queue.getWaitingCount();
    const chunk = 50;
    // Aborted if an assertion fails, so that the producer does not go on adding under the clean-up.
    const stop = new AbortController();
    const opts = { redis, queue, run, attempts: 1, prefix, chunkSize: chunk, maxQueued: 1000, rampFrom: 120, signal: stop.signal };
    let stats: EnqueueStats | null = null;
    const producing = enqueue(prompts(run, 3000), opts).then((s) => (stats = s));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let worker: Worker<JobData> | null = null;
    try {
      // Nobody takes jobs: the lead stays at rampFrom (plus the chunks already on their way), not maxQueued.
      const idle = await settle(waiting);
      assert.equal(stats, null, 'the producer waits for workers');
      assert.ok(idle.last >= 120 && idle.max <= 120 + 2 * chunk, `waiting ${idle.last} (max ${idle.max}) with no worker, rampFrom 120`);

      // A worker takes 400 jobs and holds them: the allowed lead grows to what was taken.
      const done = new Set<string>();
      worker = new Worker<JobData>(
        run,
        async (job) => {
          await held;
          assert.ok(!done.has(job.data.customId), `${job.data.customId} processed twice`);
          done.add(job.data.customId);
        },
        { connection: createRedis(REDIS_URL), prefix: bullPrefix(prefix), concurrency: 400 },
      );
      const grown = await settle(waiting);
      assert.equal(stats, null);
      assert.ok(grown.last >= 400 - 2 * chunk && grown.max <= 400 + 2 * chunk, `waiting ${grown.last} (max ${grown.max}) once 400 jobs were taken`);

      // Released, the worker drains the queue: the producer finishes, never above maxQueued.
      release();
      let maxSeen = 0;
      while (stats === null) {
        maxSeen = Math.max(maxSeen, await waiting());
        await sleep(10);
      }
      await producing;
      assert.ok(maxSeen <= 1000 + 2 * chunk, `waiting peaked at ${maxSeen}, maxQueued 1000`);
      assert.equal((stats as EnqueueStats).added, 3000);
      await waitFor(() => done.size >= 3000, 20_000, 'the worker to process every job');
      assert.equal(done.size, 3000);
    } finally {
      stop.abort();
      release();
      await producing.catch(() => {});
      if (worker) {
        await worker.close();
        await (worker.opts.connection as Redis).quit();
      }
      await queue.close();
    }
  });
});
