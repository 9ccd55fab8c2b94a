import { randomUUID } from 'node:crypto';
import { BATCH_LEASE_MS } from '../batch/driver.js';
import { batchProvider } from '../batch/provider.js';
import { ConfigError } from '../config/load.js';
import { BatchState } from '../queue/batch-state.js';
import { sleep } from '../core/sleep.js';
import { RETRYABLE_STATUSES } from '../queue/requeue.js';
import { RunStore } from '../queue/run-store.js';
import { isListedRun, listRuns, loadRun } from '../queue/run-meta.js';
import { cancelWaitingJobs, markCancelled } from '../queue/cancel.js';
import type { PipelineContext } from './context.js';

/** A line status `retry` can queue again. */
export type RetryableStatus = (typeof RETRYABLE_STATUSES)[number];

export interface RetryResult {
  /** Items put back in the queue. */
  requeued: number;
  /** Lines of those statuses whose items were not kept in Redis, so cannot be queued again. */
  missing: number;
}

/**
 * Queues again the items of a run whose line has one of `statuses`; their new line replaces the old
 * one in the results file once workers and the run's collector have done them. A stopped or
 * cancelled run is set running again. Throws a ConfigError for a status that cannot be retried or a
 * run that does not exist.
 */
export async function retryRun(ctx: PipelineContext, run: string, statuses: readonly string[] = ['failed']): Promise<RetryResult> {
  checkRetryStatuses(statuses);
  const status = await loadRun(ctx.redis, run, ctx.prefix);
  if (!status) throw new ConfigError(`no run named ${run}`);
  const queue = ctx.queue(run);
  // A cancelled or stopped run runs again: its queue is resumed for the re-queued items.
  const store = new RunStore(ctx.redis, run, ctx.prefix);
  await store.markRunning();
  await queue.resume();
  return store.requeue(queue, [...statuses], status.settings.attempts);
}

/** Throws a ConfigError unless `statuses` are line statuses `retry` can queue again (at least one). */
export function checkRetryStatuses(statuses: readonly string[]): void {
  const bad = statuses.filter((s) => !(RETRYABLE_STATUSES as readonly string[]).includes(s));
  if (bad.length > 0 || statuses.length === 0) throw new ConfigError(`--status: ${bad.join(', ') || '(empty)'} cannot be retried; use ${RETRYABLE_STATUSES.join(' or ')}`);
}

export interface CancelResult {
  /** Items that ended as `failed` lines with error type `cancelled`. */
  ended: number;
  /** Calls still in flight when the wait was over; they end with their own lines. */
  stillActive: number;
  /**
   * Provider batches of the run that this cancel stopped itself, because no worker of the run was
   * driving its batches (one that is cancels them). What they finished is kept: the run's next worker
   * collects it, and the rest ends as cancelled lines.
   */
  batchesCancelled: string[];
}

/**
 * Stops a run: no new calls; the items not yet sent end as failed lines with error type `cancelled`
 * (written by the run's collector; `retry` queues them again). Waits up to `waitMs` for calls in
 * flight. Throws a ConfigError for a run that does not exist.
 */
export async function cancelRun(ctx: PipelineContext, run: string, opts: { waitMs?: number } = {}): Promise<CancelResult> {
  const waitMs = opts.waitMs ?? 60_000;
  const status = await loadRun(ctx.redis, run, ctx.prefix);
  if (!status) throw new ConfigError(`no run named ${run}`);
  const queue = ctx.queue(run);
  await markCancelled(ctx.redis, queue, run, ctx.prefix);
  const batchesCancelled = await cancelUndrivenBatches(ctx, run, status.settings.baseUrl);
  let ended = await cancelWaitingJobs(ctx.redis, queue, run, ctx.prefix);
  // Calls in flight finish with their own lines; an attempt that fails now goes back to the
  // queue, where the next sweep (here, or the run's collector) ends it as cancelled.
  const deadline = Date.now() + waitMs;
  let active = (await queue.getJobCounts('active')).active ?? 0;
  while (active > 0 && Date.now() < deadline) {
    await sleep(200);
    ended += await cancelWaitingJobs(ctx.redis, queue, run, ctx.prefix);
    active = (await queue.getJobCounts('active')).active ?? 0;
  }
  ended += await cancelWaitingJobs(ctx.redis, queue, run, ctx.prefix);
  return { ended, stillActive: active, batchesCancelled };
}

/**
 * A provider batch keeps running (and billing) until it is cancelled at the provider. A worker of the
 * run cancels it when it sees the run cancelled; with none running, this does, taking the batch
 * driver's lease so that it never races one. Returns the ids of the batches it cancelled.
 */
async function cancelUndrivenBatches(ctx: PipelineContext, run: string, baseUrl: string): Promise<string[]> {
  const state = new BatchState(ctx.redis, run, ctx.prefix);
  if (!(await state.exists())) return [];
  const owner = `cancel-${randomUUID()}`;
  if (!(await state.takeLease(owner, BATCH_LEASE_MS))) return [];
  const cancelled: string[] = [];
  try {
    const provider = batchProvider({ baseUrl, apiKey: ctx.apiKey });
    for (const chunk of await state.chunks()) {
      if (chunk.batchId === undefined || chunk.cancelRequested) continue;
      try {
        await provider.cancelBatch(chunk.batchId);
      } catch (err) {
        ctx.log.warn(`run ${run}: cancelling provider batch ${chunk.batchId}: ${(err as Error).message}; the run's next worker tries again`);
        continue;
      }
      await state.saveChunk(owner, { ...chunk, cancelRequested: true });
      cancelled.push(chunk.batchId);
      ctx.log.info(`run ${run}: cancelled provider batch ${chunk.batchId} (no worker of the run is running): what it finished is kept; the run's next worker collects it and ends the rest as cancelled`);
    }
  } finally {
    await state.releaseLease(owner);
  }
  return cancelled;
}

/**
 * Forgets a run (`respool clean`): its queue, ledger and settings leave Redis; the results file stays,
 * so running the same job again reads it back and sends nothing already written. Returns false when
 * no run has that name.
 */
export async function cleanRun(ctx: PipelineContext, run: string): Promise<boolean> {
  if (!(await isListedRun(ctx.redis, run, ctx.prefix))) return false;
  await new RunStore(ctx.redis, run, ctx.prefix).clean(ctx.queue(run));
  return true;
}

/** Every run under the prefix, by name. */
export function runNames(ctx: PipelineContext): Promise<string[]> {
  return listRuns(ctx.redis, ctx.prefix);
}
