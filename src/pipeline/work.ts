import { listRuns } from '../queue/run-meta.js';
import { WorkerSet } from '../worker/worker-set.js';
import type { PipelineContext } from './context.js';

export interface WorkOptions {
  /**
   * API calls in flight in this process, per run.
   * @default 16
   */
  concurrency?: number;
  /** Only this run. @default every run under the prefix, found as they appear */
  name?: string;
  /** Overrides the base URL the runs were enqueued with. */
  baseUrl?: string;
  /**
   * Started with the workers and closed before them: what else this process does with them (the
   * scheduled runs of `respool worker`, which live a layer above the pipeline).
   */
  alongside?: (workers: WorkerSet, signal: AbortSignal) => { close(): Promise<unknown> };
  /**
   * How often to look for new runs (ms).
   * @default 2000
   */
  discoverEveryMs?: number;
  /** Called when the workers start on a run. */
  onRun?: (run: string) => void;
}

/** Workers started by `startWorking`: they take jobs until `stop()`. */
export interface WorkHandle {
  /** Lines these workers delivered so far. */
  readonly delivered: number;
  /**
   * Takes no new jobs and waits up to `graceMs` for calls in flight. Resolves true when they all
   * finished in time; false when some were abandoned (another worker's stalled check redoes them).
   */
  stop(graceMs?: number): Promise<boolean>;
  /** Settles when `stop()` is done: true when every call in flight finished in time. */
  readonly promise: Promise<boolean>;
}

/**
 * Works on queued runs: every run in this Redis under the prefix (found every `discoverEveryMs`, so
 * workers may start before the runs are enqueued), or only `name`. The lines go to each run's
 * results stream, where the run's collector writes them.
 */
export async function startWorking(ctx: PipelineContext, opts: WorkOptions = {}): Promise<WorkHandle> {
  const concurrency = opts.concurrency ?? 16;
  const redis = ctx.connection('workers');
  const workers = new WorkerSet({ redis, log: ctx.log, concurrency, apiKey: ctx.apiKey, prefix: ctx.prefix, ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}), ...ctx.timing });
  const abort = new AbortController();
  const scheduled = opts.alongside?.(workers, abort.signal) ?? null;
  // Runs are found in Redis, so workers started before `enqueue` pick the run up when it appears.
  const discover = async () => {
    await workers.refreshStopped();
    const runs = opts.name ? [opts.name] : await listRuns(ctx.redis, ctx.prefix);
    for (const run of runs) {
      if (!workers.runNames.includes(run)) {
        await workers.add(run);
        opts.onRun?.(run);
      }
    }
  };
  try {
    await discover();
  } catch (err) {
    await scheduled?.close();
    await workers.close(0);
    await ctx.release(redis);
    throw err;
  }
  const timer = setInterval(() => discover().catch((err: Error) => ctx.log.warn(`finding runs: ${err.message}`)), opts.discoverEveryMs ?? 2000);
  let resolveStopped!: (inTime: boolean) => void;
  const promise = new Promise<boolean>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<boolean> | null = null;
  const stop = (graceMs = 30_000): Promise<boolean> => {
    stopping ??= (async () => {
      clearInterval(timer);
      abort.abort();
      await scheduled?.close();
      const inTime = await workers.close(graceMs);
      // Abandoned calls keep using the connection until the process exits; only a clean stop closes it.
      if (inTime) await ctx.release(redis);
      resolveStopped(inTime);
      return inTime;
    })();
    return stopping;
  };
  return {
    get delivered() {
      return workers.delivered;
    },
    stop,
    promise,
  };
}
