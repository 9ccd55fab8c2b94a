import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_DEFAULTS, queueTiming } from '../config/defaults.js';
import { sleep } from '../core/sleep.js';
import type { JobData } from '../core/item.js';
import type { Logger } from '../cli/logger.js';
import { BACKOFF_TYPE } from '../queue/job-options.js';
import { bullPrefix, runKeys } from '../queue/keys.js';
import { areDone, deliver } from '../queue/ledger.js';
import { MicroBatcher } from '../queue/micro-batcher.js';
import { limitsFor, loadRun, markStopped, type RunSettings } from '../queue/run-meta.js';
import { RateLimiter } from './limits/rate-limiter.js';
import { backoffDelayMs } from './backoff.js';
import { OpenResponsesClient } from './client.js';
import { ApiCallError } from './errors.js';
import { createProcessor } from './processor.js';
import { RunCache } from './run-cache.js';

export interface WorkerSetOptions {
  redis: Redis;
  log: Logger;
  concurrency: number;
  /** From the worker's own environment; never stored in Redis. */
  apiKey: string | undefined;
  /** Overrides the base URL the run was enqueued with (this worker's --base-url). */
  baseUrl?: string;
  prefix?: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/**
 * The BullMQ workers of one process: one Worker per run queue, all sharing the API clients, the run
 * settings cache and the knowledge of which runs were stopped.
 */
export class WorkerSet {
  private readonly workers = new Map<string, Worker<JobData, void>>();
  private readonly clients = new Map<string, OpenResponsesClient>();
  private readonly stopped = new Set<string>();
  /** Lines this process delivered (a second delivery of the same item is not counted). */
  delivered = 0;
  private readonly runs: RunCache;
  readonly limiter: RateLimiter;
  private readonly processor;

  constructor(private readonly opts: WorkerSetOptions) {
    this.runs = new RunCache(opts.redis, opts.prefix);
    this.limiter = new RateLimiter(opts.redis, opts.prefix ?? QUEUE_DEFAULTS.prefix);
    this.processor = createProcessor({
      runs: this.runs,
      clientFor: (s) => this.clientFor(s),
      stopRun: (run, reason) => this.stopRun(run, reason),
      isStopped: (run) => this.stopped.has(run),
      isDone: (run, jobId) => this.batchers(run).isDone.submit(jobId),
      limiter: this.limiter,
      budgetFor: (settings, model) => {
        const budget = this.limiter.budgetFor(this.opts.baseUrl ?? settings.baseUrl, this.opts.apiKey, model, limitsFor(settings, model));
        this.recordBudget(settings.run, budget.id);
        return budget;
      },
      deliver: async (run, jobId, line) => {
        if (await this.batchers(run).deliver.submit({ id: jobId, line: JSON.stringify(line) })) this.delivered++;
      },
    });
  }

  private readonly perRun = new Map<string, { isDone: MicroBatcher<string, boolean>; deliver: MicroBatcher<{ id: string; line: string }, boolean> }>();

  private batchers(run: string) {
    let b = this.perRun.get(run);
    if (!b) {
      const keys = runKeys(run, this.opts.prefix);
      b = {
        isDone: new MicroBatcher((ids) => areDone(this.opts.redis, keys, ids)),
        deliver: new MicroBatcher((lines) => deliver(this.opts.redis, keys, lines), 100),
      };
      this.perRun.set(run, b);
    }
    return b;
  }

  get runNames(): string[] {
    return [...this.workers.keys()];
  }

  /**
   * A run stopped here (key refused) stays stopped in this process until its state in Redis says it
   * runs again (it was enqueued again); long-lived workers call this now and then.
   */
  async refreshStopped(): Promise<void> {
    for (const run of [...this.stopped]) {
      const status = await loadRun(this.opts.redis, run, this.opts.prefix);
      if (status?.state === 'running') {
        this.stopped.delete(run);
        this.opts.log.info(`run ${run} is running again`);
      }
    }
  }

  /** Starts working on a run's queue (no-op if already working on it). */
  async add(run: string): Promise<void> {
    if (this.workers.has(run)) return;
    const timing = queueTiming(process.env);
    this.stopped.delete(run);
    this.runs.forget(run);
    const worker = new Worker<JobData, void>(run, this.processor, {
      connection: this.opts.redis,
      prefix: bullPrefix(this.opts.prefix),
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.lockDurationMs ?? timing.lockDurationMs,
      stalledInterval: this.opts.stalledIntervalMs ?? timing.stalledIntervalMs,
      maxStalledCount: QUEUE_DEFAULTS.maxStalledCount,
      settings: { backoffStrategy: (attemptsMade, type, err, job) => this.backoff(attemptsMade, type, err, job?.data as JobData | undefined) },
    });
    worker.on('error', (err) => this.opts.log.warn(`worker (${run}): ${err.message}`));
    worker.on('failed', (job, err) => {
      if (err instanceof ApiCallError) this.opts.log.debug(`${job?.data.customId ?? '?'}: attempt ${job?.attemptsMade ?? '?'} failed: ${err.message}`);
    });
    this.workers.set(run, worker);
    await worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and waits for jobs in flight up to `graceMs`. Returns false when some were still
   * running then: they are abandoned (not failed, no attempt used) and come back through another
   * worker's stalled check, so the caller may exit at once.
   */
  async close(graceMs = 30_000): Promise<boolean> {
    const all = [...this.workers.values()];
    this.workers.clear();
    const inTime = await Promise.all(
      all.map(async (w) => {
        const graceful = w.close();
        const timedOut = await Promise.race([graceful.then(() => false), sleep(graceMs, undefined, { unref: true }).then(() => true)]);
        // close(true) can hang as well while Redis is unreachable (BullMQ #4656): do not wait for it.
        if (timedOut) void w.close(true).catch(() => {});
        return !timedOut;
      }),
    );
    return inTime.every(Boolean);
  }

  private readonly recorded = new Set<string>();

  /** Lets `respool status` find the budgets a run uses (their ids, never the key). */
  private recordBudget(run: string, id: string): void {
    const k = `${run}\0${id}`;
    if (this.recorded.has(k)) return;
    this.recorded.add(k);
    this.opts.redis.sadd(runKeys(run, this.opts.prefix).budgets, id).catch(() => this.recorded.delete(k));
  }

  private clientFor(settings: RunSettings): OpenResponsesClient {
    const baseUrl = this.opts.baseUrl ?? settings.baseUrl;
    const key = `${baseUrl}\0${settings.timeoutMs}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new OpenResponsesClient({ baseUrl, apiKey: this.opts.apiKey, timeoutMs: settings.timeoutMs });
      this.clients.set(key, client);
    }
    return client;
  }

  private async stopRun(run: string, reason: string): Promise<void> {
    if (this.stopped.has(run)) return;
    this.stopped.add(run);
    this.opts.log.error(`run ${run} stopped: ${reason}`);
    // Pausing the queue stops every worker on every machine from taking more of its jobs.
    const queue = new Queue(run, { connection: this.opts.redis, prefix: bullPrefix(this.opts.prefix) });
    try {
      await Promise.all([queue.pause(), markStopped(this.opts.redis, run, reason, this.opts.prefix)]);
    } finally {
      await queue.close();
    }
  }

  private async backoff(attemptsMade: number, type: string | undefined, err: Error | undefined, data: JobData | undefined): Promise<number> {
    if (type !== BACKOFF_TYPE) return 0;
    const settings = data ? await this.runs.get(data.run) : null;
    const retryAfter = err instanceof ApiCallError ? err.retryAfterMs : null;
    return backoffDelayMs(attemptsMade, { baseMs: settings?.backoffMs ?? 1000, maxMs: settings?.maxBackoffMs ?? 60_000 }, retryAfter);
  }
}
