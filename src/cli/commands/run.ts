import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import { MAX_DATED_NAME, type JobConfig } from '../../config/schema.js';
import type { OutputLine } from '../../core/output-line.js';
import type { IncrementalState } from '../../queue/incremental.js';
import { describeRunModel, InputTally, readInputs, readOptionsFor } from '../../inputs/index.js';
import { enqueue, type EnqueueStats } from '../../queue/producer.js';
import { ledgerCounts } from '../../queue/ledger.js';
import { runKeys } from '../../queue/keys.js';
import { loadRun, type StopKind } from '../../queue/run-meta.js';
import { RunStore } from '../../queue/run-store.js';
import { settingsWithPrices } from '../../queue/run-prices.js';
import { addLine, emptyTotals, formatTotals, type RunTotals } from '../../report/line-totals.js';
import { Collector, RunStateLostError } from '../../sinks/collector.js';
import { readResultsIntoLedger } from '../../sinks/results-seed.js';
import { WorkerSet } from '../../worker/worker-set.js';
import { whenCancelled } from '../../queue/cancel.js';
import { addJobFlags, configFromFlags } from '../job-flags.js';
import { Progress } from '../progress.js';
import { followRunProgress } from '../run-progress.js';
import { redactRedisUrl } from '../../queue/redis-security.js';
import { Session, type GlobalFlags } from '../session.js';
import { stopOnSignals } from '../signals.js';
import { EXIT, ExitError } from '../exit.js';
import { failIfCapped } from '../cost-exit.js';
import { failIfUnsuccessful, stoppedExit } from '../run-exit.js';
import { checkInputs } from '../input-check.js';
import { checkApiKey, warnIfNoApiKey } from '../api-key.js';
import { NIGHTLY_DEFAULTS, QUEUE_DEFAULTS } from '../../config/defaults.js';
import { ConfigError } from '../../config/load.js';
import { dateIn, isDate } from '../../schedule/dates.js';
import { runDated } from '../../schedule/dated-run.js';

export interface PipelineResult {
  outcome: 'complete' | 'stopped' | 'interrupted';
  stopReason: string | null;
  stopKind: StopKind | null;
  enqueued: EnqueueStats;
  /** Totals of the lines written by this process (a resumed run counts only the new ones). */
  totals: RunTotals;
  out: string;
}

/** Registers the run (again), puts its items in the queue. Shared by `run` and `enqueue`. */
export async function enqueueRun(
  session: Session,
  config: JobConfig,
  opts: {
    onChunk?: (s: EnqueueStats) => void;
    maxQueued?: number;
    rampFrom?: number;
    chunkSize?: number;
    signal?: AbortSignal;
    incremental?: IncrementalState;
    /** `enqueue`: the results file, where this machine sees it, is read back first (`run`'s collector does that itself). */
    readResults?: boolean;
    /** `enqueue --fresh`: forget the run first; its collector moves the old results file aside. */
    fresh?: boolean;
  } = {},
): Promise<EnqueueStats> {
  const { incremental, readResults: _readResults, fresh: _fresh, ...enqueueOpts } = opts;
  const queue = session.queue(config.name);
  const store = new RunStore(session.redis, config.name, session.prefix);
  if (opts.fresh) await startOverFromEnqueue(session, config);
  else if (opts.readResults) await readResultsHere(session, config);
  await store.saveSettings(await settingsWithPrices(config));
  // A run stopped earlier (key refused) is paused; enqueueing it again means "go on".
  await queue.resume();
  const tally = new InputTally((message) => session.log.warn(message));
  const read = readInputs(config.inputs, { ...readOptionsFor(config, process.cwd()), tally });
  const outcomes = incremental ? incremental.filter(read) : read;
  // `respool cancel` from anywhere stops the reading too.
  const watch = whenCancelled(session.redis, config.name, session.prefix, opts.signal);
  try {
    const stats = await enqueue(outcomes, { redis: session.redis, queue, run: config.name, attempts: config.attempts, prefix: session.prefix, ...enqueueOpts, signal: watch.signal });
    // The reading may have been stopped for the cancel before the watch saw it (in `run`, the
    // collector finishing the cancelled run stops it), so a stop asks Redis once more.
    const cancelled = watch.cancelled() || (watch.signal.aborted && (await store.loadState()) === 'cancelled');
    if (cancelled) session.log.warn(`run ${config.name} was cancelled: stopped reading the inputs after ${stats.read} items`);
    else if (!opts.signal?.aborted) await store.markEnqueueDone();
    logInputTally(session, config.name, tally);
    return stats;
  } finally {
    watch.stop();
  }
}

/** The models the items read are sent to, and what reading skipped (files that are not images, empty files). */
function logInputTally(session: Session, run: string, tally: InputTally): void {
  const models = tally.describeModels();
  const notes = tally.describe();
  if (models !== '' || notes !== '') session.log.info(`inputs of ${run}: ${[models === '' ? 'no items' : `models ${models}`, notes].filter((p) => p !== '').join('; ')}`);
}

/**
 * Forgets the run in Redis and marks it to start over: its collector moves the old results file
 * aside when it starts. Refused while a collector writes the run (it has the file open).
 */
async function startOverFromEnqueue(session: Session, config: JobConfig): Promise<void> {
  const store = new RunStore(session.redis, config.name, session.prefix);
  if ((await store.collectorLockHolder()) !== null) {
    throw new ExitError(`a collector is writing run ${config.name}; stop it before starting the run over with --fresh`, EXIT.fatal);
  }
  await store.clean(session.queue(config.name));
  // Before the run is registered again, so that a collector waiting for it never reads the old file.
  await store.markFresh();
  session.log.info(`run ${config.name}: starting over (--fresh); its collector moves ${config.out} aside when it starts`);
}

/**
 * `enqueue` on the machine that has the results file: when Redis does not know what the file holds
 * (a new Redis, a cleaned run, lost data), the file is read back before any item is queued. Done
 * under the collector lock, taken without waiting: a collector that holds it read the file itself.
 * Where the file is not here, the run's collector reads it when it starts.
 */
async function readResultsHere(session: Session, config: JobConfig): Promise<void> {
  const store = new RunStore(session.redis, config.name, session.prefix);
  if ((await store.resultsState()) !== 'unread' || !existsSync(config.out)) return;
  const token = `${os.hostname()}:${process.pid}:${randomUUID()}`;
  if (!(await store.tryLockCollector(token, 60_000))) return;
  try {
    const r = await readResultsIntoLedger(store.ledger, config.name, config.out);
    await store.markResultsRead();
    if (r.lines > 0) session.log.info(`run ${config.name}: read ${config.out} back into Redis: ${r.ofRun} lines of this run, ${r.found} of them not known to Redis: those items are done`);
  } finally {
    await store.releaseCollectorLock(token);
  }
}

/** enqueue + work + collect in one process: the laptop case, and what a resumed run does. */
export interface PipelineOptions {
  /** Forget the run first and move its results file aside (`run --fresh`). */
  fresh?: boolean;
  signal?: AbortSignal;
  progress?: Progress;
  /** Skips items an earlier run wrote, and records the ones this run writes (docs/nightly.md). */
  incremental?: IncrementalState;
  /** Called with each batch of lines once they are in the results file. */
  onWritten?: (lines: OutputLine[]) => void;
  /** Work with these (a `respool worker` process's own) instead of starting workers for the run. */
  workers?: WorkerSet;
}

export async function runPipeline(session: Session, config: JobConfig, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const { log, redis } = session;
  const totals = emptyTotals();
  const queue = session.queue(config.name);
  const collector = new Collector({
    redis: session.connection('collector'),
    queue,
    run: config.name,
    out: config.out,
    log,
    prefix: session.prefix,
    onWritten: (lines) => {
      for (const l of lines) addLine(totals, l);
      opts.progress?.onLines(lines);
      void opts.incremental?.record(lines);
      opts.onWritten?.(lines);
    },
  });
  // The lock first: a second `respool run` of the same run, started while this one works, must fail
  // without registering the run again (that would reset enqueue_done under the first one).
  await collector.lock();
  const store = new RunStore(redis, config.name, session.prefix);
  try {
    if (opts.fresh) {
      await store.clean(queue, { keepCollectorLock: true });
      await store.markFresh();
    }
    await store.saveSettings(await settingsWithPrices(config));
    await queue.resume();
    await collector.start();
  } catch (err) {
    await collector.close();
    throw err;
  }
  if (opts.progress) await followRunProgress(opts.progress, session, config.name, { list: config.inputs, cwd: process.cwd() });
  const workers = opts.workers ?? new WorkerSet({ redis: session.connection('workers'), log, concurrency: config.concurrency, apiKey: process.env.OPENRESPONSES_API_KEY, prefix: session.prefix });
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
    const enqueued = enqueueRun(session, config, { maxQueued, rampFrom, chunkSize: QUEUE_DEFAULTS.sharedAddBulkChunk, signal: readSignal, ...(opts.incremental ? { incremental: opts.incremental } : {}) }).then(async (stats) => {
      const { items } = await store.ledger.counts();
      // Exact only once every input was read: a stopped reading leaves the ledger short.
      if (!readSignal.aborted) opts.progress?.setTotal(items);
      log.info(`enqueued ${config.name}: ${stats.read} read, ${stats.rejected} rejected, ${stats.alreadyDone} already in ${config.out}`);
      return stats;
    });
    // If enqueueing fails, stop collecting too instead of waiting forever.
    let enqueueError: unknown = null;
    enqueued.catch((err: unknown) => (enqueueError = err));
    const outcome = await collector.runUntilComplete({
      ...(opts.signal ? { signal: opts.signal } : {}),
      shouldStop: async () => enqueueError !== null || (await loadRun(redis, config.name, session.prefix))?.state === 'stopped',
    }).finally(() => stopReading.abort());
    if (enqueueError) throw enqueueError;
    await opts.incremental?.flush();
    const status = await loadRun(redis, config.name, session.prefix);
    return {
      outcome: outcome === 'complete' ? 'complete' : status?.state === 'stopped' ? 'stopped' : 'interrupted',
      stopReason: status?.stopReason ?? null,
      stopKind: status?.stopKind ?? null,
      enqueued: await enqueued,
      totals,
      out: collector.path,
    };
  } finally {
    if (!opts.workers) await workers.close(opts.signal?.aborted ? 10_000 : 30_000);
    await collector.close();
  }
}

export function registerRun(program: Command, globals: () => GlobalFlags): void {
  addJobFlags(program.command('run').description('enqueue, work and write one run in this process; run it again to resume'))
    .option('--date <YYYY-MM-DD>', 'with incremental: true, the date of the run (default: today, UTC)')
    .option('--fresh', 'start over: forget the run in Redis, move the results file aside (<out>.<time>.bak) and send every item again')
    .action(async (jobfile: string | undefined, flags: Record<string, unknown>) => {
      const config = await configFromFlags(jobfile, flags);
      // Bad settings end the command before anything is queued or any file is written.
      await checkInputs(config.inputs, process.cwd());
      checkApiKey(process.env);
      if (config.incremental) return runIncremental(config, flags, globals());
      const session = await Session.open(globals());
      const stop = stopOnSignals(session.log);
      const progress = new Progress(session.log, { json: globals().logJson });
      try {
        session.log.info(`run ${config.name}: ${describeRunModel(config.model, config.inputs)}, concurrency ${config.concurrency}, writing ${config.out} (Redis: ${redactRedisUrl(session.target.url)}, ${session.target.origin})`);
        warnIfNoApiKey(session.log);
        progress.start();
        const result = await runPipeline(session, config, { signal: stop.signal, progress, fresh: flags.fresh === true }).catch((err: unknown) => {
          if (err instanceof RunStateLostError) throw new ExitError(err.message, EXIT.stateLost);
          throw err;
        });
        progress.stop();
        if (result.outcome === 'complete' && result.totals.lines === 0 && result.enqueued.alreadyDone > 0) {
          const { written } = await ledgerCounts(session.redis, runKeys(config.name, session.prefix));
          session.log.info(`run ${config.name} was already complete: its ${written} lines are in ${result.out}`);
        } else session.log.info(`run ${config.name} ${result.outcome}: ${formatTotals(result.totals)}`);
        if (result.outcome === 'stopped') throw stoppedExit(config.name, result.stopKind, result.stopReason);
        if (result.outcome === 'interrupted') throw new ExitError(`run ${config.name} interrupted; run the same command again to resume`, EXIT.interrupted);
        if ((await loadRun(session.redis, config.name, session.prefix))?.state === 'cancelled') {
          session.log.warn(`run ${config.name} was cancelled: items not sent have failed lines with error type "cancelled"; respool retry --name ${config.name} queues them again`);
        }
        session.log.info(`results: ${result.out}`);
        await failIfCapped(session, config.name, config.max_cost);
        await failIfUnsuccessful(session.redis, session.log, config.name, config.allow_failures, session.prefix);
      } finally {
        progress.stop();
        stop.dispose();
        await session.close();
      }
    });
}

/** `run` of a job with `incremental: true`: one dated run, as a schedule would start it (docs/nightly.md). */
async function runIncremental(config: JobConfig, flags: Record<string, unknown>, globals: GlobalFlags): Promise<void> {
  const date = typeof flags.date === 'string' ? flags.date : dateIn(Date.now(), NIGHTLY_DEFAULTS.tz);
  if (!isDate(date)) throw new ConfigError(`--date must be a date written YYYY-MM-DD (got "${date}")`);
  if (config.name.length > MAX_DATED_NAME) throw new ConfigError(`name: at most ${MAX_DATED_NAME} characters for an incremental job (its runs add -YYYY-MM-DD)`);
  const session = await Session.open(globals);
  const stop = stopOnSignals(session.log);
  try {
    const summary = await runDated(session, config, { date, signal: stop.signal });
    if (summary.outcome === 'stopped') {
      const status = await loadRun(session.redis, summary.run, session.prefix);
      throw stoppedExit(summary.run, status?.stopKind ?? null, status?.stopReason ?? null);
    }
    if (summary.outcome === 'interrupted') throw new ExitError(`run ${summary.run} interrupted; run the same command again to resume`, EXIT.interrupted);
    await failIfUnsuccessful(session.redis, session.log, summary.run, config.allow_failures, session.prefix);
  } finally {
    stop.dispose();
    await session.close();
  }
}
