import type { Command } from 'commander';
import type { JobConfig } from '../../config/schema.js';
import { readInputs } from '../../inputs/index.js';
import { enqueue, type EnqueueStats } from '../../queue/producer.js';
import { ledgerCounts } from '../../queue/ledger.js';
import { runKeys } from '../../queue/keys.js';
import { loadRun, markEnqueueDone, saveRun } from '../../queue/run-meta.js';
import { settingsWithPrices } from '../../cost/run-prices.js';
import { addLine, emptyTotals, formatTotals, type RunTotals } from '../../report/summary.js';
import { Collector } from '../../sinks/collector.js';
import { WorkerSet } from '../../worker/run-worker.js';
import { whenCancelled } from '../../worker/cancel.js';
import { addJobFlags, configFromFlags } from '../job-flags.js';
import { Progress } from '../progress.js';
import { redactRedisUrl } from '../../queue/redis-security.js';
import { Session, type GlobalFlags } from '../session.js';
import { EXIT, ExitError } from '../exit.js';
import { failIfCapped } from '../cost-exit.js';

export interface PipelineResult {
  outcome: 'complete' | 'stopped' | 'interrupted';
  stopReason: string | null;
  enqueued: EnqueueStats;
  /** Totals of the lines written by this process (a resumed run counts only the new ones). */
  totals: RunTotals;
  out: string;
}

/** Registers the run (again), puts its items in the queue. Shared by `run` and `enqueue`. */
export async function enqueueRun(
  session: Session,
  config: JobConfig,
  opts: { onChunk?: (s: EnqueueStats) => void; maxQueued?: number; signal?: AbortSignal } = {},
): Promise<EnqueueStats> {
  const queue = session.queue(config.name);
  await saveRun(session.redis, await settingsWithPrices(config), session.prefix);
  // A run stopped earlier (key refused) is paused; enqueueing it again means "go on".
  await queue.resume();
  const outcomes = readInputs(config.inputs, {
    cwd: process.cwd(),
    ...(config.prompt === undefined ? {} : { template: config.prompt }),
    imagePrompt: config.image_prompt,
    ...(config.id_column === undefined ? {} : { idColumn: config.id_column }),
    maxImageBytes: config.max_image_bytes,
    imageRoots: config.image_roots,
  });
  // `respool cancel` from anywhere stops the reading too.
  const watch = whenCancelled(session.redis, config.name, session.prefix, opts.signal);
  try {
    const stats = await enqueue(outcomes, { redis: session.redis, queue, run: config.name, attempts: config.attempts, prefix: session.prefix, ...opts, signal: watch.signal });
    if (watch.cancelled()) session.log.warn(`run ${config.name} was cancelled: stopped reading the inputs after ${stats.read} items`);
    else if (!opts.signal?.aborted) await markEnqueueDone(session.redis, config.name, session.prefix);
    return stats;
  } finally {
    watch.stop();
  }
}

/** enqueue + work + collect in one process: the laptop case, and what a resumed run does. */
export async function runPipeline(session: Session, config: JobConfig, opts: { signal?: AbortSignal; progress?: Progress } = {}): Promise<PipelineResult> {
  const { log, redis } = session;
  const totals = emptyTotals();
  const queue = session.queue(config.name);
  await saveRun(redis, await settingsWithPrices(config), session.prefix);
  await queue.resume();

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
    },
  });
  await collector.start();
  const writtenBefore = (await ledgerCounts(redis, runKeys(config.name, session.prefix))).written;
  const workers = new WorkerSet({ redis: session.connection('workers'), log, concurrency: config.concurrency, apiKey: process.env.OPENRESPONSES_API_KEY, prefix: session.prefix });
  opts.progress?.countRateLimited(() => workers.limiter.rateLimited);
  try {
    await workers.add(config.name);
    // Stay a little ahead of the workers instead of loading the whole input into Redis first: the
    // workers share this process, and memory follows what is in flight, not the size of the input.
    const maxQueued = Math.max(2000, config.concurrency * 20);
    const enqueued = enqueueRun(session, config, { maxQueued, ...(opts.signal ? { signal: opts.signal } : {}) }).then(async (stats) => {
      const { items } = await ledgerCounts(redis, runKeys(config.name, session.prefix));
      opts.progress?.setTotal(items - writtenBefore);
      log.info(`enqueued ${config.name}: ${stats.read} read, ${stats.rejected} rejected, ${stats.alreadyDone} already in ${config.out}`);
      return stats;
    });
    // If enqueueing fails, stop collecting too instead of waiting forever.
    let enqueueError: unknown = null;
    enqueued.catch((err: unknown) => (enqueueError = err));
    const outcome = await collector.runUntilComplete({
      ...(opts.signal ? { signal: opts.signal } : {}),
      shouldStop: async () => enqueueError !== null || (await loadRun(redis, config.name, session.prefix))?.state === 'stopped',
    });
    if (enqueueError) throw enqueueError;
    const status = await loadRun(redis, config.name, session.prefix);
    return {
      outcome: outcome === 'complete' ? 'complete' : status?.state === 'stopped' ? 'stopped' : 'interrupted',
      stopReason: status?.stopReason ?? null,
      enqueued: await enqueued,
      totals,
      out: collector.path,
    };
  } finally {
    await workers.close(opts.signal?.aborted ? 10_000 : 30_000);
    await collector.close();
  }
}

export function registerRun(program: Command, globals: () => GlobalFlags): void {
  addJobFlags(program.command('run').description('enqueue, work and write one run in this process; run it again to resume'))
    .action(async (jobfile: string | undefined, flags: Record<string, unknown>) => {
      const config = await configFromFlags(jobfile, flags);
      const session = await Session.open(globals());
      const abort = new AbortController();
      const onSignal = () => {
        if (abort.signal.aborted) process.exit(EXIT.interrupted);
        session.log.warn('stopping: finishing calls in flight (press Ctrl-C again to exit at once); run the same command to resume');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const progress = new Progress(session.log);
      try {
        session.log.info(`run ${config.name}: model ${config.model}, concurrency ${config.concurrency}, writing ${config.out} (Redis: ${redactRedisUrl(session.target.url)}, ${session.target.origin})`);
        if (!process.env.OPENRESPONSES_API_KEY) session.log.warn('OPENRESPONSES_API_KEY is not set: calls go out without a key');
        progress.start();
        const result = await runPipeline(session, config, { signal: abort.signal, progress });
        progress.stop();
        session.log.info(`run ${config.name} ${result.outcome}: ${formatTotals(result.totals)}`);
        if (result.outcome === 'stopped') throw new ExitError(`run ${config.name} stopped: ${result.stopReason ?? 'unknown reason'}`, EXIT.runStopped);
        if (result.outcome === 'interrupted') throw new ExitError(`run ${config.name} interrupted; run the same command again to resume`, EXIT.interrupted);
        if ((await loadRun(session.redis, config.name, session.prefix))?.state === 'cancelled') {
          session.log.warn(`run ${config.name} was cancelled: items not sent have failed lines with error type "cancelled"; respool retry --name ${config.name} queues them again`);
        }
        session.log.info(`results: ${result.out}`);
        await failIfCapped(session, config.name, config.max_cost);
      } finally {
        progress.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await session.close();
      }
    });
}
