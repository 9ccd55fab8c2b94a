import type { Job, JobType, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import type { OutputLine } from '../core/output-line.js';
import { RunStore } from './run-store.js';
import { rejectedJobLine, resultsLine } from '../core/results-line.js';

/** Every state a job of a cancelled run can wait in without a worker holding it. */
const NOT_STARTED: JobType[] = ['wait', 'prioritized', 'delayed', 'waiting-children'];

/** `respool cancel`, step one: see `RunStore.markCancelled`. */
export async function markCancelled(redis: Redis, queue: Queue<JobData>, run: string, prefix?: string): Promise<void> {
  await new RunStore(redis, run, prefix).markCancelled(queue);
}

/**
 * Ends every job of the run that no worker holds as a line: `failed` with error type `cancelled`
 * (or its `rejected` line, for bad input). The item's data is kept, so `respool retry` can queue it
 * again. Lines go through the ledger like a worker's, so an item never gets two; the job is removed
 * only after its line is delivered, so a crash in between only repeats the work. Returns how many
 * items it ended.
 */
export async function cancelWaitingJobs(redis: Redis, queue: Queue<JobData>, run: string, prefix?: string): Promise<number> {
  return endWaitingJobs(new RunStore(redis, run, prefix), queue);
}

/** See `cancelWaitingJobs`. */
export async function endWaitingJobs(store: RunStore, queue: Queue<JobData>): Promise<number> {
  const model = (await store.load())?.settings.model || null;
  let ended = 0;
  for (;;) {
    const jobs = (await queue.getJobs(NOT_STARTED, 0, 499, true)).filter((j) => Boolean(j?.id)) as Array<Job<JobData>>;
    if (jobs.length === 0) return ended;
    const lines = jobs.map((job) => ({ id: job.id!, line: JSON.stringify(lineOfCancelled(job, model)) }));
    for (const job of jobs) if (job.data.type === 'item') await store.ledger.saveRetryData(job.id!, job.data);
    const fresh = await store.ledger.deliver(lines);
    ended += fresh.filter(Boolean).length;
    const removed = await Promise.all(jobs.map((job) => job.remove().then(() => true, () => false)));
    // A job that could not be removed is held by a worker after all: it ends with that worker's line.
    if (!removed.some(Boolean)) return ended;
  }
}

function lineOfCancelled(job: Job<JobData>, model: string | null): OutputLine {
  const data = job.data;
  const now = new Date();
  if (data.type === 'rejected') return rejectedJobLine(data, now);
  const ctx = { item: data, model: model ?? '', attempts: job.attemptsMade, latencyMs: null, rateLimited: 0, finishedAt: now };
  return resultsLine(ctx, { kind: 'cancelled' });
}

/**
 * An abort signal that fires when the run is cancelled (checked every `everyMs`) or when `parent`
 * aborts. Producers use it to stop reading input for a cancelled run.
 */
export function whenCancelled(redis: Redis, run: string, prefix: string | undefined, parent?: AbortSignal, everyMs = 1000): { signal: AbortSignal; cancelled: () => boolean; stop: () => void } {
  const store = new RunStore(redis, run, prefix);
  const ctrl = new AbortController();
  let cancelled = false;
  const onParent = () => ctrl.abort();
  parent?.addEventListener('abort', onParent, { once: true });
  const timer = setInterval(() => {
    store
      .loadState()
      .then((state) => {
        if (state === 'cancelled' && !ctrl.signal.aborted) {
          cancelled = true;
          ctrl.abort();
        }
      })
      .catch(() => {});
  }, everyMs);
  timer.unref();
  return {
    signal: ctrl.signal,
    cancelled: () => cancelled,
    stop: () => {
      clearInterval(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}
