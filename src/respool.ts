/**
 * The library: `openRespool` and the object it returns. Every method is a thin layer over the
 * pipeline (src/pipeline), as the command line's commands are; nothing here reads `process.env`.
 */
import type { JobConfig } from './config/schema.js';
import { checkRunName } from './config/run-name.js';
import { ConfigError } from './config/load.js';
import type { Logger } from './core/logger.js';
import type { OutputLine } from './core/output-line.js';
import type { RedisTls } from './queue/redis-security.js';
import type { StopKind } from './queue/run-meta.js';
import { loadRun } from './queue/run-meta.js';
import { knownCostNanos, type RunTotals } from './report/line-totals.js';
import { nanosToUsd } from './cost/compute.js';
import { checkApiKey } from './pipeline/api-key.js';
import { collectRun } from './pipeline/collect.js';
import { PipelineContext } from './pipeline/context.js';
import { enqueueRun, type EnqueueStats } from './pipeline/enqueue.js';
import { estimateJson, estimateRun, type EstimateReport } from './pipeline/estimate.js';
import { checkInputs } from './pipeline/input-check.js';
import { resolveJob, type Job } from './pipeline/job.js';
import { readCostCapReached, readUnsuccessful, type UnsuccessfulLines } from './pipeline/outcome.js';
import { ProgressEvents, type RunProgress } from './pipeline/progress-events.js';
import { reportOn, type ReportFormat } from './pipeline/report.js';
import { exportResults, type ExportRequest, type ExportStats } from './pipeline/export.js';
import { runPipeline } from './pipeline/run.js';
import { cancelRun, cleanRun, retryRun, type CancelResult, type RetryableStatus, type RetryResult } from './pipeline/run-control.js';
import { runReport, runReports, type RunReport } from './pipeline/status.js';
import { startWorking, type WorkHandle } from './pipeline/work.js';
import { startScheduledRuns } from './schedule/scheduled-runs.js';
import { addSchedule, forgetIncremental, schedules, unschedule, type ScheduleInfo, type ScheduleOptions } from './schedule/manage.js';
import { datedConfig, runDated } from './schedule/dated-run.js';
import { dateIn, isDate } from './schedule/dates.js';
import { NIGHTLY_DEFAULTS } from './config/defaults.js';

/** Options of `openRespool`. Each one is passed in: the library never reads environment variables. */
export interface RespoolOptions {
  /**
   * Redis URL: `redis://[:password@]host[:port][/db]`, `rediss://` for TLS.
   * @default a Redis answering on redis://127.0.0.1:6379, else a `redis-server` (or `valkey-server`)
   * from PATH started with its data in `<stateDir>/redis` and stopped by `close()`
   */
  redis?: string;
  /**
   * PEM contents (not file names) for a `rediss://` Redis: `ca` for a private CA, `cert` and `key` for
   * a server that asks for a client certificate.
   * @default Node's CA list, no client certificate
   */
  redisTls?: RedisTls;
  /** The API key, sent as `Authorization: Bearer <key>`; never logged, stored in Redis or written to a file. */
  apiKey?: string;
  /**
   * Where respool logs (`console` will do). Messages never carry the API key.
   * @default a logger that drops everything
   */
  logger?: Logger;
  /**
   * Redis key prefix: installations with different prefixes share one Redis without seeing each other.
   * @default 'respool'
   */
  prefix?: string;
  /**
   * Folder that relative paths in jobs (inputs, out, prices, image_roots) and report files are resolved against.
   * @default process.cwd()
   */
  cwd?: string;
  /**
   * Folder for the embedded Redis's data, when respool has to start one.
   * @default '<cwd>/.respool'
   */
  stateDir?: string;
}

/** Options of `rp.run`. */
export interface RunOptions {
  /** Stops the run: calls in flight finish and their lines are written; the outcome is `interrupted`. Running the same job again resumes it. */
  signal?: AbortSignal;
  /** Called with each line once it is in the results file. */
  onLine?: (line: OutputLine) => void;
  /** Called after each batch of lines written, and when the run's item count becomes known. */
  onProgress?: (progress: RunProgress) => void;
  /**
   * Forget what Redis holds of the run and move its results file aside (`<out>.<time>.bak`): every item is sent again.
   * Not for `incremental: true` jobs.
   * @default false
   */
  fresh?: boolean;
  /**
   * With `incremental: true`: the date of the run, `YYYY-MM-DD`; the run is named `<name>-<date>` and
   * `{date}` in `out` is filled in (docs/nightly.md).
   * @default today, UTC
   */
  date?: string;
}

/**
 * How a run ended: `complete` (every item has its line), `stopped` (the API refused the key, or could
 * not be reached: see `stopKind`), `interrupted` (the signal or `close()` stopped it; run it again to
 * resume) or `cancelled` (`cancel()`: the items not sent have `failed` lines of error type `cancelled`).
 */
export type RunOutcome = 'complete' | 'stopped' | 'interrupted' | 'cancelled';

/** What `run.promise` resolves to. */
export interface RunResult {
  /** The run's name (the job's `name`, or one derived from its inputs, prompt and model). */
  name: string;
  outcome: RunOutcome;
  /** Why a `stopped` run stopped: `key_refused` or `api_unavailable`; else null. */
  stopKind: StopKind | null;
  stopReason: string | null;
  /** Totals of the lines this call wrote (a resumed run counts only its new lines). */
  totals: RunTotals;
  /** Sum of the cost of those lines in USD; null when some line with usage had no price. */
  costUsd: number | null;
  /** What reading the inputs found: items read, queued, rejected, already done, duplicates. */
  enqueued: EnqueueStats;
  /** The results file (absolute path). */
  out: string;
  /** Lines of the whole run that are `failed`, `incomplete` or `invalid_output` (what `retry` queues again). */
  failedLines: number;
  unsuccessful: UnsuccessfulLines;
  /** True when the run reached its `max_cost`: the items not sent have `skipped` lines. */
  costCapReached: boolean;
}

/** A run started by `rp.run`. */
export interface RunHandle {
  /** The run's name, as `status`, `retry` and `cancel` know it. */
  readonly name: string;
  /** Resolves when the run is complete, stopped, interrupted or cancelled; rejects on a bad setting or a lost Redis state. */
  readonly promise: Promise<RunResult>;
  /** Cancels the run as `respool cancel` does; `promise` then resolves with outcome `cancelled`. */
  cancel(): Promise<void>;
}

/** What `rp.enqueue` resolves to. */
export interface EnqueueResult extends EnqueueStats {
  /** The run's name: workers (`rp.work`) and a collector (`rp.collect(name)`) do the rest. */
  name: string;
}

/** Options of `rp.work`. */
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
   * Also start the scheduled runs (`respool schedule`) and write their results here (only without `name`).
   * @default false
   */
  schedules?: boolean;
}

/** Options of `rp.collect`. */
export interface CollectOptions {
  /** The results file. @default the `out` the run was enqueued with */
  out?: string;
  /** Stops collecting; the outcome is then `interrupted`. */
  signal?: AbortSignal;
  /** Called with each line once it is in the results file. */
  onLine?: (line: OutputLine) => void;
}

/** What `rp.collect` resolves to. */
export interface CollectResult {
  name: string;
  /** `complete`: every item has its line; `interrupted`: the signal stopped the collector first. */
  outcome: 'complete' | 'interrupted';
  /** Totals of the lines this collector wrote. */
  totals: RunTotals;
  out: string;
  failedLines: number;
  costCapReached: boolean;
}

/** Options of `rp.report`. */
export interface ReportOptions {
  /** Breakdowns, comma-separated: model, run, day, status, error or `metadata.<key>`; `a+b` groups by both. @default 'model,status' */
  by?: string;
  /** @default 'json' */
  format?: ReportFormat;
  /** A price file over the bundled prices, for lines that carry no cost. */
  prices?: string;
  /** csv: leave cells starting with = + - @ as they are (no leading '). @default false */
  csvRaw?: boolean;
}

/** The object `openRespool` returns. Close it with `await rp.close()` (or `await using`). */
export interface Respool extends AsyncDisposable {
  /**
   * Enqueues, works and collects one run in this process, as `respool run` does; running the same
   * job again resumes it (items already written are not sent again).
   *
   * @throws ConfigError at once when the job is invalid (the message names each bad field)
   * @example
   * ```ts
   * const run = rp.run(
   *   { inputs: 'reviews.csv', prompt: 'Label this review: {{text}}', model: 'gpt-4o-mini', out: 'out/labels.jsonl' },
   *   { onLine: (line) => console.log(line.custom_id, line.status, line.output_text) },
   * );
   * const result = await run.promise;
   * console.log(result.outcome, result.totals.lines, result.out);
   * ```
   */
  run(job: Job, opts?: RunOptions): RunHandle;
  /** Reads the inputs and queues every item (`respool enqueue`); workers and a collector do the rest. */
  enqueue(job: Job, opts?: { fresh?: boolean; maxQueued?: number; signal?: AbortSignal }): Promise<EnqueueResult>;
  /** Starts workers on queued runs (`respool worker`) until `stop()`. */
  work(opts?: WorkOptions): Promise<WorkHandle>;
  /** Writes a run's results file until every item has its line (`respool collect`). */
  collect(name: string, opts?: CollectOptions): Promise<CollectResult>;
  /** One run's figures (null when there is no such run), as `respool status --json` prints them. */
  status(name: string): Promise<RunReport | null>;
  /** Every run's figures under the prefix. */
  status(): Promise<RunReport[]>;
  /** Queues again the items whose line has one of `statuses` (`respool retry`). */
  retry(name: string, opts?: { statuses?: RetryableStatus[] }): Promise<RetryResult>;
  /** Cancels a run (`respool cancel`): no new calls; items not sent end as `cancelled` failed lines. */
  cancel(name: string, opts?: { waitMs?: number }): Promise<CancelResult>;
  /**
   * Forgets a run (`respool clean`): its queue, ledger and settings leave Redis. The results file
   * stays: running the job again reads it back and sends nothing already written. Resolves to false
   * when no run has that name.
   */
  clean(name: string): Promise<boolean>;
  /**
   * Runs `job` on a schedule (`respool schedule`): its dated runs are started by whichever process has
   * `rp.work({ schedules: true })` (or `respool worker`) going. A schedule of the same name is replaced.
   * @example
   * await rp.schedule({ name: 'captions', inputs: 'photos', model: 'gpt-4o-mini', incremental: true, out: 'out/captions-{date}.jsonl' }, { cron: '0 2 * * *', tz: 'Europe/Berlin' });
   */
  schedule(job: Job, when: ScheduleOptions): Promise<ScheduleInfo>;
  /** Every schedule under the prefix, with its next firing. */
  schedules(): Promise<ScheduleInfo[]>;
  /** Removes a schedule (its incremental state stays: see `resetIncremental`); false when none has that name. */
  unschedule(name: string): Promise<boolean>;
  /** Forgets what an `incremental: true` job has done: its next run sends every item again. False when it had no state. */
  resetIncremental(name: string): Promise<boolean>;
  /**
   * Joins a results file back onto the CSV or JSONL rows it came from (`respool export`): one row per
   * input row, with the answer fields, status and cost; rows without a result are kept (`no_result`).
   * @throws ConfigError for a bad option, ExportInputError for a file it cannot read
   */
  export(results: string, opts: ExportRequest): Promise<ExportStats>;
  /** Totals and breakdowns of results files (`respool report`), as text in `format` (JSON by default). */
  report(files: string[], opts?: ReportOptions): Promise<string>;
  /** What a run of `job` would cost, without calling the API (`respool estimate --json`); `probe: N` calls it for N items. */
  estimate(job: Job, opts?: { probe?: number }): Promise<EstimateReport>;
  /** Interrupts runs and collectors still going, stops workers, closes the Redis connections (and an embedded Redis). */
  close(): Promise<void>;
}

/**
 * Connects to Redis and returns the library's entry point. Nothing is read from the environment:
 * the API key, Redis and working folder are options.
 *
 * @throws ConfigError when `apiKey` cannot be sent in an HTTP header or `redis` is not a valid URL
 * @example
 * ```ts
 * import { openRespool } from 'respool';
 *
 * const rp = await openRespool({ apiKey: process.env.OPENAI_API_KEY, redis: 'redis://127.0.0.1:6379' });
 * try {
 *   const run = rp.run({ inputs: 'reviews.csv', prompt: 'Label: {{text}}', model: 'gpt-4o-mini', base_url: 'https://api.openai.com/v1' });
 *   const result = await run.promise;
 *   console.log(`${result.outcome}: ${result.totals.lines} lines in ${result.out}`);
 * } finally {
 *   await rp.close();
 * }
 * ```
 */
export async function openRespool(opts: RespoolOptions = {}): Promise<Respool> {
  checkApiKey(opts.apiKey, 'apiKey');
  const ctx = await PipelineContext.open({
    ...(opts.redis ? { redisUrl: opts.redis } : {}),
    ...(opts.redisTls ? { redisTls: opts.redisTls } : {}),
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(opts.logger ? { log: opts.logger } : {}),
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
  });
  return new RespoolClient(ctx);
}

/** What `openRespool` returns; keeps what it started so that `close()` can end it. */
class RespoolClient implements Respool {
  /** Runs and collectors going: `close()` stops them (they resume next time) before closing Redis. */
  private readonly runs = new Set<{ stop: AbortController; promise: Promise<unknown> }>();
  private readonly workers = new Set<WorkHandle>();
  private closed: Promise<void> | null = null;

  constructor(private readonly ctx: PipelineContext) {}

  run(job: Job, opts: RunOptions = {}): RunHandle {
    this.checkOpen();
    const base = this.jobConfig(job);
    // An incremental job runs as its dated run: named and written by the date.
    const date = base.incremental ? runDate(opts) : null;
    const config = date === null ? base : datedConfig(base, date);
    const stop = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const promise = this.runToEnd({ base, date, config }, opts, signal, markStarted);
    const entry = { stop, promise };
    this.runs.add(entry);
    let settled = false;
    const settle = () => {
      settled = true;
      this.runs.delete(entry);
      markStarted();
    };
    void promise.then(settle, settle);
    return {
      name: config.name,
      promise,
      cancel: async () => {
        // A run that ended (or never started: a missing input) has nothing left to cancel.
        await started;
        if (settled) return;
        await cancelRun(this.ctx, config.name, { waitMs: 0 });
      },
    };
  }

  private async runToEnd(run: { base: JobConfig; date: string | null; config: JobConfig }, opts: RunOptions, signal: AbortSignal, onStarted: () => void): Promise<RunResult> {
    const { base, date, config } = run;
    await checkInputs(config.inputs, this.ctx.cwd);
    const progress = opts.onProgress ? new ProgressEvents(opts.onProgress) : undefined;
    const onLine = opts.onLine;
    try {
      const common = {
        signal,
        onStarted,
        ...(progress ? { progress } : {}),
        ...(onLine ? { onWritten: (lines: OutputLine[]) => lines.forEach((l) => onLine(l)) } : {}),
      };
      // The dated run skips what earlier runs of the job wrote, records what it writes, and posts on_complete.
      const result = date !== null ? (await runDated(this.ctx, base, { ...common, date })).pipeline : await runPipeline(this.ctx, config, { ...common, fresh: opts.fresh === true });
      const state = (await loadRun(this.ctx.redis, config.name, this.ctx.prefix))?.state;
      const unsuccessful = await readUnsuccessful(this.ctx.redis, config.name, this.ctx.prefix);
      const cost = knownCostNanos(result.totals);
      return {
        name: config.name,
        outcome: result.outcome === 'complete' && state === 'cancelled' ? 'cancelled' : result.outcome,
        stopKind: result.stopKind,
        stopReason: result.stopReason,
        totals: result.totals,
        costUsd: cost === null ? null : nanosToUsd(cost),
        enqueued: result.enqueued,
        out: result.out,
        failedLines: unsuccessful.total,
        unsuccessful,
        costCapReached: (await readCostCapReached(this.ctx.redis, config.name, config.max_cost, this.ctx.prefix)) !== null,
      };
    } finally {
      progress?.stop();
    }
  }

  async enqueue(job: Job, opts: { fresh?: boolean; maxQueued?: number; signal?: AbortSignal } = {}): Promise<EnqueueResult> {
    this.checkOpen();
    const config = this.jobConfig(job);
    if (config.incremental) throw new ConfigError('incremental: true jobs are started by `respool run` or `respool schedule`, not `enqueue`');
    await checkInputs(config.inputs, this.ctx.cwd);
    const stats = await enqueueRun(this.ctx, config, {
      readResults: true,
      fresh: opts.fresh === true,
      ...(opts.maxQueued === undefined ? {} : { maxQueued: opts.maxQueued }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { ...stats, name: config.name };
  }

  async work(opts: WorkOptions = {}): Promise<WorkHandle> {
    this.checkOpen();
    if (opts.name !== undefined) checkRunName(opts.name, 'name');
    const handle = await startWorking(this.ctx, {
      ...opts,
      ...(opts.schedules && !opts.name ? { alongside: (workers, signal) => startScheduledRuns(this.ctx, workers, signal) } : {}),
    });
    this.workers.add(handle);
    void handle.promise.finally(() => this.workers.delete(handle));
    return handle;
  }

  async collect(name: string, opts: CollectOptions = {}): Promise<CollectResult> {
    this.checkOpen();
    checkRunName(name, 'name');
    const stop = new AbortController();
    const task = { stop, promise: this.collectToEnd(name, opts, opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal) };
    this.runs.add(task);
    try {
      return await task.promise;
    } finally {
      this.runs.delete(task);
    }
  }

  private async collectToEnd(name: string, opts: CollectOptions, signal: AbortSignal): Promise<CollectResult> {
    const onLine = opts.onLine;
    const result = await collectRun(this.ctx, name, {
      signal,
      ...(opts.out ? { out: opts.out } : {}),
      ...(onLine ? { onWritten: (lines: OutputLine[]) => lines.forEach((l) => onLine(l)) } : {}),
    });
    const unsuccessful = await readUnsuccessful(this.ctx.redis, name, this.ctx.prefix);
    return {
      name,
      outcome: result.outcome,
      totals: result.totals,
      out: result.out,
      failedLines: unsuccessful.total,
      costCapReached: result.settings !== null && (await readCostCapReached(this.ctx.redis, name, result.settings.maxCost, this.ctx.prefix)) !== null,
    };
  }

  status(name: string): Promise<RunReport | null>;
  status(): Promise<RunReport[]>;
  async status(name?: string): Promise<RunReport | null | RunReport[]> {
    this.checkOpen();
    if (name === undefined) return runReports(this.ctx);
    checkRunName(name, 'name');
    return runReport(this.ctx, name);
  }

  async retry(name: string, opts: { statuses?: RetryableStatus[] } = {}): Promise<RetryResult> {
    this.checkOpen();
    checkRunName(name, 'name');
    return retryRun(this.ctx, name, opts.statuses ?? ['failed']);
  }

  async cancel(name: string, opts: { waitMs?: number } = {}): Promise<CancelResult> {
    this.checkOpen();
    checkRunName(name, 'name');
    return cancelRun(this.ctx, name, opts);
  }

  clean(name: string): Promise<boolean> {
    this.checkOpen();
    return cleanRun(this.ctx, name);
  }

  schedule(job: Job, when: ScheduleOptions): Promise<ScheduleInfo> {
    this.checkOpen();
    return addSchedule(this.ctx, this.jobConfig(job), when);
  }

  schedules(): Promise<ScheduleInfo[]> {
    this.checkOpen();
    return schedules(this.ctx);
  }

  unschedule(name: string): Promise<boolean> {
    this.checkOpen();
    return unschedule(this.ctx, name);
  }

  resetIncremental(name: string): Promise<boolean> {
    this.checkOpen();
    return forgetIncremental(this.ctx, name);
  }

  export(results: string, opts: ExportRequest): Promise<ExportStats> {
    return exportResults(results, opts, this.ctx.cwd, this.ctx.log);
  }

  report(files: string[], opts: ReportOptions = {}): Promise<string> {
    return reportOn(files, { ...opts, cwd: this.ctx.cwd, ...(opts.prices ? { prices: this.ctx.resolve(opts.prices) } : {}) });
  }

  async estimate(job: Job, opts: { probe?: number } = {}): Promise<EstimateReport> {
    const config = this.jobConfig(job);
    const result = await estimateRun(config, { cwd: this.ctx.cwd, ...(opts.probe ? { probe: opts.probe } : {}), ...(this.ctx.apiKey ? { apiKey: this.ctx.apiKey } : {}) });
    return estimateJson(result);
  }

  close(): Promise<void> {
    this.closed ??= this.closeAll();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async closeAll(): Promise<void> {
    // Runs and collectors still going are interrupted (resumable), workers stopped, then the connections closed.
    for (const run of this.runs) run.stop.abort();
    await Promise.allSettled([...this.runs].map((r) => r.promise));
    await Promise.allSettled([...this.workers].map((w) => w.stop()));
    await this.ctx.close();
  }

  private jobConfig(job: Job): JobConfig {
    return resolveJob(job, this.ctx.cwd);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('this respool was closed');
  }
}

/** The date of an incremental job's run: `opts.date`, else today (UTC). */
function runDate(opts: RunOptions): string {
  const date = opts.date ?? dateIn(Date.now(), NIGHTLY_DEFAULTS.tz);
  if (!isDate(date)) throw new ConfigError(`date must be a date written YYYY-MM-DD (got "${date}")`);
  if (opts.fresh) throw new ConfigError('fresh: an incremental job does not start over; `respool schedule --reset-state` forgets what its runs wrote');
  return date;
}
