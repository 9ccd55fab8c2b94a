import type { JobConfig } from '../config/schema.js';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import type { OutputLine } from '../core/output-line.js';
import type { IncrementalState } from '../queue/incremental.js';
import type { EnqueueStats } from '../queue/producer.js';
import { ledgerCounts } from '../queue/ledger.js';
import { runKeys } from '../queue/keys.js';
import { loadRun, type StopKind } from '../queue/run-meta.js';
import { RunStore } from '../queue/run-store.js';
import { settingsWithPrices } from '../queue/run-prices.js';
import { addLine, emptyTotals, type RunTotals } from '../report/line-totals.js';
import { Collector } from '../sinks/collector.js';
import { WorkerSet } from '../worker/worker-set.js';
import type { PipelineContext } from './context.js';
import { enqueueRun } from './enqueue.js';
import { followRunProgress, type ProgressListener } from './progress.js';

/** How `runPipeline` ended: every item has its line, the run was stopped (key refused, API down), or the caller stopped it. */
export type PipelineOutcome = 'complete' | 'stopped' | 'interrupted';

export interface PipelineResult {
  outcome: PipelineOutcome;
  stopReason: string | null;
  stopKind: StopKind | null;
  enqueued: EnqueueStats;
  /** Totals of the lines written by this process (a resumed run counts only the new ones). */
  totals: RunTotals;
  /** The results file. */
  out: string;
}

/** enqueue + work + collect in one process: the laptop case, and what a resumed run does. */
export interface PipelineOptions {
  /** Forget the run first and move its results file aside (`run --fresh`). */
  fresh?: boolean;
  /** Stops the run: calls in flight finish, their lines are written, the rest waits for the next run. */
  signal?: AbortSignal;
  progress?: ProgressListener;
  /** Skips items an earlier run wrote, and records the ones this run writes (docs/nightly.md). */
  incremental?: IncrementalState;
  /** Called with each batch of lines once they are in the results file. */
  onWritten?: (lines: OutputLine[]) => void;
  /** Work with these (a `respool worker` process's own) instead of starting workers for the run. */
  workers?: WorkerSet;
  /** Called once the run is registered in Redis and its collector holds the results file. */
  onStarted?: () => void;
}

export async function runPipeline(ctx: PipelineContext, config: JobConfig, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const { log, redis } = ctx;
  const totals = emptyTotals();
  const queue = ctx.queue(config.name);
  const collectorRedis = ctx.connection('collector');
  const collector = new Collector({
    redis: collectorRedis,
    queue,
    run: config.name,
    out: ctx.resolve(config.out),
    log,
    prefix: ctx.prefix,
    onWritten: (lines) => {
      for (const l of lines) addLine(totals, l);
      opts.progress?.onLines(lines);
      void opts.incremental?.record(lines);
      opts.onWritten?.(lines);
    },
  });
  // The lock first: a second `respool run` of the same run, started while this one works, must fail
  // without registering the run again (that would reset enqueue_done under the first one).
  const store = new RunStore(redis, config.name, ctx.prefix);
  try {
    await collector.lock();
    if (opts.fresh) {
      await store.clean(queue, { keepCollectorLock: true });
      await store.markFresh();
    }
    await store.saveSettings(await settingsWithPrices(config));
    await queue.resume();
    await collector.start();
    opts.onStarted?.();
  } catch (err) {
    await collector.close();
    await ctx.release(collectorRedis);
    throw err;
  }
  if (opts.progress) await followRunProgress(opts.progress, ctx, config.name, { list: config.inputs, cwd: ctx.cwd });
  // Workers of this process for this run, on a connection of their own, unless the caller brings some.
  const workersRedis = opts.workers ? null : ctx.connection('workers');
  const workers = opts.workers ?? new WorkerSet({ redis: workersRedis!, log, concurrency: config.concurrency, apiKey: ctx.apiKey, prefix: ctx.prefix, ...ctx.timing });
  opts.progress?.countRateLimited(() => workers.limiter.rateLimited);
  try {
    await workers.add(config.name);
    // Stay a little ahead of the workers instead of loading the whole input into Redis first: the
    // workers share this process, and memory follows what is in flight, not the size of the input.
    const maxQueued = Math.max(2000, config.concurrency * 20);
    // The lead grows from what fills the workers once (their call slots and held jobs, and some).
    const rampFrom = Math.ceil(config.concurrency * 1.25);
    // A producer waiting for room would wait forever once the run stops (its queue is paused): it
    // stops reading when the collector stops, whatever the reason.
    const stopReading = new AbortController();
    const readSignal = opts.signal ? AbortSignal.any([opts.signal, stopReading.signal]) : stopReading.signal;
    const enqueued = enqueueRun(ctx, config, { maxQueued, rampFrom, chunkSize: QUEUE_DEFAULTS.sharedAddBulkChunk, signal: readSignal, ...(opts.incremental ? { incremental: opts.incremental } : {}) }).then(async (stats) => {
      const { items } = await ledgerCounts(redis, runKeys(config.name, ctx.prefix));
      // Exact only once every input was read: a stopped reading leaves the ledger short.
      if (!readSignal.aborted) opts.progress?.setTotal(items);
      log.info(`enqueued ${config.name}: ${stats.read} read, ${stats.rejected} rejected, ${stats.alreadyDone} already in ${config.out}`);
      return stats;
    });
    // If enqueueing fails, stop collecting too instead of waiting forever.
    let enqueueError: unknown = null;
    enqueued.catch((err: unknown) => (enqueueError = err));
    const outcome = await collector
      .runUntilComplete({
        ...(opts.signal ? { signal: opts.signal } : {}),
        shouldStop: async () => enqueueError !== null || (await loadRun(redis, config.name, ctx.prefix))?.state === 'stopped',
      })
      .finally(() => stopReading.abort());
    if (enqueueError) throw enqueueError;
    await opts.incremental?.flush();
    const status = await loadRun(redis, config.name, ctx.prefix);
    return {
      outcome: outcome === 'complete' ? 'complete' : status?.state === 'stopped' ? 'stopped' : 'interrupted',
      stopReason: status?.stopReason ?? null,
      stopKind: status?.stopKind ?? null,
      enqueued: await enqueued,
      totals,
      out: collector.path,
    };
  } finally {
    if (workersRedis) {
      await workers.close(opts.signal?.aborted ? 10_000 : 30_000);
      await ctx.release(workersRedis);
    }
    await collector.close();
    await ctx.release(collectorRedis);
  }
}

