import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { deleteSpend } from '../cost/cap.js';
import { runKeys, runsKey } from './keys.js';
import { deleteLedger } from './ledger.js';
import { BatchState } from './batch-state.js';

/**
 * Removes everything a run keeps in Redis: its queue, ledger and settings. The results file stays
 * (and is read back by the run's next collector). `keepCollectorLock`: for a command that holds the
 * lock and starts the run over (`--fresh`).
 */
export async function cleanRun(redis: Redis, queue: Queue, run: string, prefix?: string, opts: { keepCollectorLock?: boolean } = {}): Promise<void> {
  await queue.obliterate({ force: true });
  const keys = runKeys(run, prefix);
  await deleteLedger(redis, keys);
  if (!opts.keepCollectorLock) await redis.del(keys.collectorLock);
  await redis.del(keys.meta, keys.results, keys.written, keys.writing, keys.budgets,
    keys.lineCounts, keys.progress, keys.failedLines, keys.retryData, keys.retrying, keys.superseded, keys.content, keys.dedupe, keys.dedupeRetryable);
  await deleteSpend(redis, run, prefix);
  await new BatchState(redis, run, prefix).deleteAll();
  await redis.srem(runsKey(prefix), run);
}
