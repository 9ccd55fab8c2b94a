import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { runKeys, runsKey } from './keys.js';

/** Removes everything a run keeps in Redis: its queue, ledger and settings. The results file stays. */
export async function cleanRun(redis: Redis, queue: Queue, run: string, prefix?: string): Promise<void> {
  await queue.obliterate({ force: true });
  const keys = runKeys(run, prefix);
  await redis.del(keys.meta, keys.ledger, keys.results, keys.written, keys.writing, keys.collectorLock, keys.budgets, keys.content);
  await redis.srem(runsKey(prefix), run);
}
