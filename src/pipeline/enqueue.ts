import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { JobConfig } from '../config/schema.js';
import type { IncrementalState } from '../queue/incremental.js';
import { InputTally, readInputs, readOptionsFor } from '../inputs/index.js';
import { enqueue, type EnqueueStats } from '../queue/producer.js';
import { RunStore } from '../queue/run-store.js';
import { settingsWithPrices } from '../queue/run-prices.js';
import { readResultsIntoLedger } from '../sinks/results-seed.js';
import { whenCancelled } from '../queue/cancel.js';
import type { PipelineContext } from './context.js';
import { CollectorBusyError } from '../sinks/collector.js';

export type { EnqueueStats } from '../queue/producer.js';

export interface EnqueueOptions {
  /** Called after each chunk of items is queued. */
  onChunk?: (s: EnqueueStats) => void;
  /**
   * Wait while more than this many items wait for a worker.
   * @default no limit
   */
  maxQueued?: number;
  /** With `maxQueued`: the lead starts here and grows with the jobs the workers took. */
  rampFrom?: number;
  /** Items per `addBulk`. */
  chunkSize?: number;
  /** Stops the reading; the items read so far stay queued. */
  signal?: AbortSignal;
  /** Skips items an earlier run wrote (docs/nightly.md). */
  incremental?: IncrementalState;
  /** Reads the results file back first, when it is here and Redis does not know what it holds (`run`'s collector does that itself). */
  readResults?: boolean;
  /** Forget the run first; its collector moves the old results file aside. */
  fresh?: boolean;
}

/** Registers the run (again), puts its items in the queue. Shared by `run` and `enqueue`. */
export async function enqueueRun(ctx: PipelineContext, config: JobConfig, opts: EnqueueOptions = {}): Promise<EnqueueStats> {
  const { incremental, readResults: _readResults, fresh: _fresh, ...enqueueOpts } = opts;
  const queue = ctx.queue(config.name);
  if (opts.fresh) await startOverFromEnqueue(ctx, config);
  else if (opts.readResults) await readResultsHere(ctx, config);
  const store = new RunStore(ctx.redis, config.name, ctx.prefix);
  await store.saveSettings(await settingsWithPrices(config));
  // A run stopped earlier (key refused) is paused; enqueueing it again means "go on".
  await queue.resume();
  const tally = new InputTally((message) => ctx.log.warn(message));
  const read = readInputs(config.inputs, { ...readOptionsFor(config, ctx.cwd), tally });
  const outcomes = incremental ? incremental.filter(read) : read;
  // `respool cancel` from anywhere stops the reading too.
  const watch = whenCancelled(ctx.redis, config.name, ctx.prefix, opts.signal);
  try {
    // Sources are relative to the context's folder (the library's `cwd`), which need not be the process's.
    const stats = await enqueue(outcomes, { redis: ctx.redis, queue, run: config.name, attempts: config.attempts, prefix: ctx.prefix, cwd: ctx.cwd, ...enqueueOpts, signal: watch.signal });
    // The reading may have been stopped for the cancel before the watch saw it (in `run`, the
    // collector finishing the cancelled run stops it), so a stop asks Redis once more.
    const cancelled = watch.cancelled() || (watch.signal.aborted && (await store.loadState()) === 'cancelled');
    if (cancelled) ctx.log.warn(`run ${config.name} was cancelled: stopped reading the inputs after ${stats.read} items`);
    else if (!opts.signal?.aborted) await store.markEnqueueDone();
    logInputTally(ctx, config.name, tally);
    return stats;
  } finally {
    watch.stop();
  }
}

/** The models the items read are sent to, and what reading skipped (files that are not images, empty files). */
function logInputTally(ctx: PipelineContext, run: string, tally: InputTally): void {
  const models = tally.describeModels();
  const notes = tally.describe();
  if (models !== '' || notes !== '') ctx.log.info(`inputs of ${run}: ${[models === '' ? 'no items' : `models ${models}`, notes].filter((p) => p !== '').join('; ')}`);
}

/**
 * Forgets the run in Redis and marks it to start over: its collector moves the old results file
 * aside when it starts. Refused while a collector writes the run (it has the file open).
 */
async function startOverFromEnqueue(ctx: PipelineContext, config: JobConfig): Promise<void> {
  const store = new RunStore(ctx.redis, config.name, ctx.prefix);
  if ((await store.collectorLockHolder()) !== null) {
    throw new CollectorBusyError(`a collector is writing run ${config.name}; stop it before starting the run over with --fresh`);
  }
  await store.clean(ctx.queue(config.name));
  // Before the run is registered again, so that a collector waiting for it never reads the old file.
  await store.markFresh();
  ctx.log.info(`run ${config.name}: starting over (--fresh); its collector moves ${config.out} aside when it starts`);
}

/**
 * `enqueue` on the machine that has the results file: when Redis does not know what the file holds
 * (a new Redis, a cleaned run, lost data), the file is read back before any item is queued. Done
 * under the collector lock, taken without waiting: a collector that holds it read the file itself.
 * Where the file is not here, the run's collector reads it when it starts.
 */
async function readResultsHere(ctx: PipelineContext, config: JobConfig): Promise<void> {
  const store = new RunStore(ctx.redis, config.name, ctx.prefix);
  const out = ctx.resolve(config.out);
  if ((await store.resultsState()) !== 'unread' || !existsSync(out)) return;
  const token = `${os.hostname()}:${process.pid}:${randomUUID()}`;
  if (!(await store.tryLockCollector(token, 60_000))) return;
  try {
    const r = await readResultsIntoLedger(store.ledger, config.name, out);
    await store.markResultsRead();
    if (r.lines > 0) ctx.log.info(`run ${config.name}: read ${config.out} back into Redis: ${r.ofRun} lines of this run, ${r.found} of them not known to Redis: those items are done`);
  } finally {
    await store.releaseCollectorLock(token);
  }
}
