import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import { jobOptions } from './job-options.js';
import type { RunKeys } from './keys.js';
import { RunLedger } from './ledger.js';
import { forgetSharedAnswers } from './dedupe.js';

/**
 * `respool retry`: puts the items whose written line has a wanted status back in the run's queue.
 * (Not to be confused with a job's attempts and their backoff, in worker/backoff.ts.)
 */

export { RETRYABLE_STATUSES, isRetryable } from './ledger.js';

/** See `RunLedger.saveRetryData`. */
export async function saveRetryData(redis: Redis, keys: RunKeys, id: string, data: JobData): Promise<void> {
  await new RunLedger(redis, keys).saveRetryData(id, data);
}

export interface RetryResult {
  /** Items put back in the queue. */
  requeued: number;
  /** Lines with a wanted status whose item data was not kept (written before respool kept it). */
  missing: number;
}

/**
 * Re-queues the items whose line in the results file has one of `statuses`. Their old lines stay in
 * the file until their new lines are written; then the collector rewrites the file without them.
 * Safe to repeat after a crash: an item moved to `retrying` but not yet queued is queued by the next call.
 */
export async function retryItems(redis: Redis, queue: Queue<JobData>, keys: RunKeys, statuses: string[], attempts: number): Promise<RetryResult> {
  const ledger = new RunLedger(redis, keys);
  const result: RetryResult = { requeued: 0, missing: 0 };
  let cursor = '0';
  do {
    const page = await ledger.failedLinesPage(cursor);
    cursor = page.next;
    const { requeued, missing } = await ledger.requeueWritten(statuses, page.ids);
    result.requeued += requeued;
    result.missing += missing;
  } while (cursor !== '0');
  // Retried items ask again, once per request key, instead of copying the answer being retried.
  await forgetSharedAnswers(redis, keys, statuses);
  await queueRetrying(ledger, queue, attempts);
  return result;
}

/** Adds a job for every item in `retrying`, then forgets it there. */
async function queueRetrying(ledger: RunLedger, queue: Queue<JobData>, attempts: number): Promise<void> {
  let cursor = '0';
  do {
    const page = await ledger.retryingPage(cursor);
    cursor = page.next;
    const entries = page.entries;
    if (entries.length === 0) continue;
    // A job BullMQ gave up on stays in its failed set until the collector removes it; an id that still
    // exists would make the add a no-op, so such leftovers go first.
    await Promise.all(
      entries.map(async ({ id }) => {
        const state = await queue.getJobState(id);
        if (state === 'failed' || state === 'completed') await queue.remove(id);
      }),
    );
    await queue.addBulk(entries.map(({ id, data }) => ({ name: data.type, data, opts: jobOptions(id, attempts) })));
    await ledger.doneRetrying(entries.map((e) => e.id));
  } while (cursor !== '0');
}
