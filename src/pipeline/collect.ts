import type { OutputLine } from '../core/output-line.js';
import { sleep } from '../core/sleep.js';
import { loadRun, type RunSettings } from '../queue/run-meta.js';
import { addLine, emptyTotals, type RunTotals } from '../report/line-totals.js';
import { Collector } from '../sinks/collector.js';
import type { PipelineContext } from './context.js';
import { followRunProgress, type ProgressListener } from './progress.js';

export interface CollectOptions {
  /**
   * The results file.
   * @default the `out` the run was enqueued with
   */
  out?: string;
  /** Stops collecting; the lines not written yet stay in Redis for the next collector. */
  signal?: AbortSignal;
  /** Called with each batch of lines once they are in the results file. */
  onWritten?: (lines: OutputLine[]) => void;
  progress?: ProgressListener;
  /** Called once the collector holds the run's lock and its results file is open. */
  onStart?: (out: string) => void;
  /**
   * Called while the run is stopped (key refused, API unreachable), once per stop; the collector
   * keeps waiting, since enqueueing the run again resumes it.
   */
  onStopped?: (status: { reason: string | null; kind: string | null }) => void;
  /** Called every second while the run is not in Redis yet (collect may start before enqueue). */
  onWaitingForRun?: () => void;
}

export interface CollectResult {
  /** `complete`: every item has its line; `interrupted`: the signal stopped the collector first. */
  outcome: 'complete' | 'interrupted';
  /** Totals of the lines this collector wrote. */
  totals: RunTotals;
  /** The results file. */
  out: string;
  /** The run's settings, as it was enqueued (null when the signal came before the run appeared). */
  settings: RunSettings | null;
}

/**
 * Writes a run's results file until every item has its line: the one writer per run. Waits for the
 * run to be enqueued when it is not in Redis yet.
 */
export async function collectRun(ctx: PipelineContext, run: string, opts: CollectOptions = {}): Promise<CollectResult> {
  const totals = emptyTotals();
  const status = await waitForRun(ctx, run, opts);
  if (!status) return { outcome: 'interrupted', totals, out: opts.out ?? '', settings: null };
  const redis = ctx.connection('collector');
  const collector = new Collector({
    redis,
    queue: ctx.queue(run),
    run,
    out: ctx.resolve(opts.out ?? status.settings.out),
    log: ctx.log,
    prefix: ctx.prefix,
    onWritten: (lines) => {
      for (const l of lines) addLine(totals, l);
      opts.progress?.onLines(lines);
      opts.onWritten?.(lines);
    },
  });
  try {
    await collector.start();
    opts.onStart?.(collector.path);
    if (opts.progress) await followRunProgress(opts.progress, ctx, run);
    const outcome = await collector.runUntilComplete({ ...(opts.signal ? { signal: opts.signal } : {}), shouldStop: watchStops(ctx, run, opts.onStopped) });
    return { outcome: outcome === 'complete' ? 'complete' : 'interrupted', totals, out: collector.path, settings: status.settings };
  } finally {
    await collector.close();
    await ctx.release(redis);
  }
}

/** The run's status once it is in Redis, or null when the signal comes first. */
async function waitForRun(ctx: PipelineContext, run: string, opts: CollectOptions) {
  let status = await loadRun(ctx.redis, run, ctx.prefix);
  while (!status && !opts.signal?.aborted) {
    opts.onWaitingForRun?.();
    await sleep(1000);
    status = await loadRun(ctx.redis, run, ctx.prefix);
  }
  return status;
}

/**
 * The collector of a stopped run keeps waiting (enqueueing the run again resumes it), but says once
 * per stop why nothing comes, so that whoever watches it knows what to fix. Never stops it.
 */
function watchStops(ctx: PipelineContext, run: string, onStopped: CollectOptions['onStopped']): () => Promise<boolean> {
  let reported = false;
  let lastCheck = 0;
  return async () => {
    if (!onStopped || Date.now() - lastCheck < 1000) return false;
    lastCheck = Date.now();
    const status = await loadRun(ctx.redis, run, ctx.prefix);
    const stopped = status?.state === 'stopped';
    if (stopped && !reported) onStopped({ reason: status.stopReason, kind: status.stopKind });
    reported = stopped;
    return false;
  };
}
