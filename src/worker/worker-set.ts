import { Queue, Worker } from '../core/cjs-deps.js';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Redis } from 'ioredis';
import { DEFAULTS, QUEUE_DEFAULTS } from '../config/defaults.js';
import { sleep } from '../core/sleep.js';
import type { JobData } from '../core/item.js';
import type { Logger } from '../core/logger.js';
import { BACKOFF_TYPE } from '../queue/job-options.js';
import { bullPrefix, runKeys } from '../queue/keys.js';
import { claimCalls, deliver, releaseCalls, type CallClaim } from '../queue/ledger.js';
import { MicroBatcher } from '../queue/micro-batcher.js';
import { isRetryable, saveRetryData } from '../queue/requeue.js';
import { limitsFor, loadRun, loadRunState, type RunSettings, type RunState, type StopKind } from '../queue/run-meta.js';
import { RunStore } from '../queue/run-store.js';
import { RateLimiter } from './limits/rate-limiter.js';
import type { Budget } from './limits/budget.js';
import { backoffDelayMs } from './backoff.js';
import { OpenResponsesClient } from './client.js';
import { ApiCallError } from './errors.js';
import { callSignal, isOpen, unavailableReason } from './circuit.js';
import { createProcessor, PutBackBeforeCallError, RunCancelledError } from './processor.js';
import { callTimeoutMs } from './prepare-call.js';
import { duplicateCost, RequestDedupe } from './dedupe.js';
import { RunCache } from './run-cache.js';
import { CostCap } from '../queue/cost-cap.js';
import { formatUsd, usdToNanos } from '../cost/compute.js';
import type { Pricer } from '../cost/pricer.js';
import { pricerForRun } from '../queue/run-prices.js';
import type { OutputLine } from '../core/output-line.js';
import type { CostDecision } from './cost-hooks.js';
import { Parking } from '../batch/park.js';
import { BatchDriver, type DeliverEntry } from '../batch/driver.js';
import { batchProvider } from '../batch/provider.js';

export interface WorkerSetOptions {
  redis: Redis;
  log: Logger;
  concurrency: number;
  /** From the worker's own environment; never stored in Redis. */
  apiKey: string | undefined;
  /** Overrides the base URL the run was enqueued with (this worker's --base-url). */
  baseUrl?: string;
  prefix?: string;
  /**
   * How long a job's lock (and an item's call claim) lasts without renewal.
   * @default QUEUE_DEFAULTS.lockDurationMs
   */
  lockDurationMs?: number;
  /**
   * How often stalled jobs (of a worker that died) are looked for.
   * @default QUEUE_DEFAULTS.stalledIntervalMs
   */
  stalledIntervalMs?: number;
}


/** How often one process may reset a run's count of API failures in a row (see `apiAnswered`). */
const RESET_EVERY_MS = 100;
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
    this.parking = new Parking({ redis: opts.redis, runs: this.runs, ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }) });
    const online = createProcessor({
      runs: this.runs,
      // An `auto` run's tier now: its deadline watcher records a switch to flex or the standard tier here.
      modeNow: (settings) => this.parking.modeOf(settings),
      clientFor: (s) => this.clientFor(s),
      inCallSlot: (run, call) =>
        this.callSlots(run)(async () => {
          // Jobs held beyond the slots (see `add`) left the queue before a cancel, a stop or a
          // shutdown could reach them: none of those may start a call once it got its slot.
          if (this.closing) throw new PutBackBeforeCallError('the worker is closing');
          if (this.stopped.has(run)) throw new PutBackBeforeCallError(`run ${run} was stopped`);
          const state = await this.runState(run);
          if (state === 'cancelled') throw new RunCancelledError(`run ${run} was cancelled`);
          if (state === 'stopped') {
            this.learnStopped(run);
            throw new PutBackBeforeCallError(`run ${run} was stopped`);
          }
          return call();
        }),
      waitAfter429: (run, ms, signal) => this.waitOutOfSlot(run, ms, signal),
      stopRun: (run, reason) => this.stopRun(run, reason),
      apiAnswered: (run) => this.apiAnswered(run),
      apiFailed: (settings, err) => this.apiFailed(settings, err),
      isStopped: (run) => this.stopped.has(run),
      claimCall: (run, jobId, owner) => this.batchers(run).claimCall.submit({ id: jobId, owner }),
      releaseCall: (run, jobId, owner) => releaseCalls(this.opts.redis, runKeys(run, this.opts.prefix), [{ id: jobId, owner }]),
      limiter: this.limiter,
      budgetFor: (settings, model) => {
        const baseUrl = this.opts.baseUrl ?? settings.baseUrl;
        const budget = this.limiter.budgetFor(baseUrl, this.opts.apiKey, model, limitsFor(settings, model));
        this.recordBudget(settings.run, budget, model, baseUrl);
        return budget;
      },
      deliver: async (run, jobId, line, data) => {
        // Kept before the line leaves, so that `respool retry` can queue the item again later.
        if (isRetryable(line.status)) await saveRetryData(this.opts.redis, runKeys(run, this.opts.prefix), jobId, data);
        const full = await this.withCost(run, line);
        if (await this.batchers(run).deliver.submit({ id: jobId, line: JSON.stringify(full) })) this.delivered++;
      },
      reserveCost: (settings, model, body, jobId, calls, signal) => this.reserveCost(settings, model, body, jobId, calls, signal),
      dedupe: new RequestDedupe(opts.redis, opts.prefix),
    });
    this.processor = this.parking.wrap(online);
  }

  // ---- batch and auto modes (src/batch): parking on the job path, one driver per run ----

  private readonly parking: Parking;
  private readonly drivers = new Map<string, { driver: BatchDriver; queue: Queue<JobData> }>();

  private startBatchDriver(run: string): void {
    if (this.drivers.has(run)) return;
    const queue = new Queue<JobData>(run, { connection: this.opts.redis, prefix: bullPrefix(this.opts.prefix) });
    const driver = new BatchDriver({
      redis: this.opts.redis,
      run,
      ...(this.opts.prefix === undefined ? {} : { prefix: this.opts.prefix }),
      log: this.opts.log,
      queue,
      concurrency: this.opts.concurrency,
      provider: (settings) => batchProvider({ baseUrl: this.opts.baseUrl ?? settings.baseUrl, apiKey: this.opts.apiKey }),
      deliver: (r, entries) => this.deliverBatchLines(r, entries),
      pricer: (settings) => this.pricer(settings),
    });
    this.drivers.set(run, { driver, queue });
    driver.start();
  }

  /** Lines made from a provider batch's output take the online lines' way: retry data, cost, the ledger. */
  private async deliverBatchLines(run: string, entries: DeliverEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const keys = runKeys(run, this.opts.prefix);
    for (const e of entries) if (isRetryable(e.line.status)) await saveRetryData(this.opts.redis, keys, e.id, e.data);
    const lines = await Promise.all(entries.map(async (e) => ({ id: e.id, line: JSON.stringify(await this.withCost(run, e.line)) })));
    const fresh = (await deliver(this.opts.redis, keys, lines)).filter(Boolean).length;
    this.delivered += fresh;
    return fresh;
  }

  private async stopBatchDrivers(): Promise<void> {
    const all = [...this.drivers.values()];
    this.drivers.clear();
    await Promise.all(all.map(async ({ driver, queue }) => {
      await driver.stop();
      await queue.close().catch(() => {});
    }));
  }

  private readonly pricers = new Map<string, Promise<Pricer>>();
  private leases = 0;

  private pricer(settings: RunSettings): Promise<Pricer> {
    let p = this.pricers.get(settings.run);
    if (!p) {
      p = pricerForRun(settings, (m) => this.opts.log.warn(m));
      p.catch(() => this.pricers.delete(settings.run));
      this.pricers.set(settings.run, p);
    }
    return p;
  }

  /** Every line gets its cost (docs/cost.md) and, when the run has request metadata, that metadata. */
  private async withCost(run: string, line: OutputLine): Promise<OutputLine> {
    const settings = await this.runs.get(run);
    if (!settings) return { ...line, cost: null };
    const pricer = await this.pricer(settings);
    // A duplicate's answer was paid for on the line of the item that called (docs/output-line.md#duplicates).
    // Priced at the tier that served it: the line's `service_tier` (the response's, or `batch`).
    const tier = (line as { service_tier?: unknown }).service_tier;
    const out: OutputLine = { ...line, cost: line.duplicate_of === undefined ? pricer.costOf(line.model, line.usage, tier) : duplicateCost() };
    if (settings.request?.metadata) out.metadata = settings.request.metadata;
    return out;
  }

  /** The run's max_cost, shared by every worker through Redis (src/queue/cost-cap.ts). */
  private async reserveCost(settings: RunSettings, model: string, body: Record<string, unknown>, jobId: string, calls: number, signal?: AbortSignal): Promise<CostDecision | undefined> {
    if (settings.maxCost === undefined) return undefined;
    const pricer = await this.pricer(settings);
    const cap = new CostCap(this.opts.redis, settings.run, usdToNanos(settings.maxCost), this.opts.prefix);
    // A model without a price cannot be estimated; its calls count what the API reports, if anything.
    const estimate = (pricer.estimateCallNanos(model, body, settings.expectedOutputTokens) ?? 0) * calls;
    const lease = `${jobId}.${process.pid}.${++this.leases}`;
    let r = await cap.reserve(lease, estimate);
    while (r.outcome === 'wait') {
      // Only calls in flight stand in the way: their real cost (usually below the estimate) decides.
      // On shutdown the item goes back to the queue (an abort is retried like any non-API error).
      await sleep(50 + Math.floor(Math.random() * 50), signal);
      signal?.throwIfAborted();
      r = await cap.reserve(lease, estimate);
    }
    if (r.outcome === 'capped') {
      return {
        skip: `not sent: the run's max_cost of ${formatUsd(cap.capNanos)} was reached (spent ${formatUsd(r.spentNanos)}; this call could cost up to ${formatUsd(estimate)})`,
      };
    }
    return {
      settle: (json) => {
        const res = json as { usage?: unknown; model?: unknown; service_tier?: unknown } | null;
        return cap.settle(lease, pricer.actualCallNanos(typeof res?.model === 'string' ? res.model : model, res?.usage, res?.service_tier));
      },
    };
  }

  private readonly perRun = new Map<
    string,
    {
      claimCall: MicroBatcher<{ id: string; owner: string }, CallClaim>;
      deliver: MicroBatcher<{ id: string; line: string }, boolean>;
      answered: MicroBatcher<null, undefined>;
    }
  >();

  private batchers(run: string) {
    let b = this.perRun.get(run);
    if (!b) {
      const keys = runKeys(run, this.opts.prefix);
      // A call claim lasts as long as a job's lock: a worker that has not renewed its locks for that
      // long is taken for dead by BullMQ too, and its items may be called again.
      const claimTtl = this.opts.lockDurationMs ?? QUEUE_DEFAULTS.lockDurationMs;
      b = {
        claimCall: new MicroBatcher((entries) => claimCalls(this.opts.redis, keys, claimTtl, entries)),
        deliver: new MicroBatcher((lines) => deliver(this.opts.redis, keys, lines), 100),
        answered: new MicroBatcher<null, undefined>(async (calls) => {
          await new RunStore(this.opts.redis, run, this.opts.prefix).resetApiFailures();
          return calls.map(() => undefined);
        }),
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
        // Enqueued again, maybe with another base URL (the fix for an API that could not be reached).
        this.runs.forget(run);
        this.opts.log.info(`run ${run} is running again`);
      }
    }
  }

  private readonly states = new Map<string, { readAt: number; state: Promise<RunState | null> }>();

  /** The run's state as Redis had it at most `runStateTtlMs` ago; a failed read counts as running. */
  private runState(run: string): Promise<RunState | null> {
    const now = Date.now();
    const cached = this.states.get(run);
    if (cached && now - cached.readAt < QUEUE_DEFAULTS.runStateTtlMs) return cached.state;
    const state = loadRunState(this.opts.redis, run, this.opts.prefix).catch(() => 'running' as const);
    this.states.set(run, { readAt: now, state });
    return state;
  }

  /**
   * A job waiting out a sporadic 429 holds no call slot but still one of the BullMQ worker's jobs:
   * while it waits, the worker takes one more, or waiting jobs would starve the call slots.
   */
  private async waitOutOfSlot(run: string, ms: number, signal?: AbortSignal): Promise<void> {
    const worker = this.workers.get(run);
    if (worker) worker.concurrency += 1;
    try {
      await sleep(ms, signal);
    } finally {
      if (worker && worker.concurrency > 1) worker.concurrency -= 1;
    }
  }

  private readonly slots = new Map<string, LimitFunction>();
  private closing = false;

  /** `concurrency` API calls at once per run; the BullMQ worker holds a few more jobs (see `add`). */
  private callSlots(run: string): LimitFunction {
    let limit = this.slots.get(run);
    if (!limit) {
      limit = pLimit(this.opts.concurrency);
      this.slots.set(run, limit);
    }
    return limit;
  }

  /** Starts working on a run's queue (no-op if already working on it). */
  async add(run: string): Promise<void> {
    if (this.workers.has(run)) return;
    this.stopped.delete(run);
    this.runs.forget(run);
    this.pricers.delete(run);
    const worker = new Worker<JobData, void>(run, this.processor, {
      connection: this.opts.redis,
      prefix: bullPrefix(this.opts.prefix),
      // A job spends a few ms before and after its call in Redis (fetch, delivery, completion). A few
      // more jobs than call slots keep every slot busy meanwhile, so a latency-bound run really has
      // `concurrency` calls in flight; the slots still bound the calls.
      concurrency: this.opts.concurrency + jobHeadroom(this.opts.concurrency),
      lockDuration: this.opts.lockDurationMs ?? QUEUE_DEFAULTS.lockDurationMs,
      stalledInterval: this.opts.stalledIntervalMs ?? QUEUE_DEFAULTS.stalledIntervalMs,
      maxStalledCount: QUEUE_DEFAULTS.maxStalledCount,
      settings: { backoffStrategy: (attemptsMade, type, err, job) => this.backoff(attemptsMade, type, err, job?.data as JobData | undefined) },
    });
    worker.on('error', (err) => this.opts.log.warn(`worker (${run}): ${err.message}`));
    worker.on('failed', (job, err) => {
      if (err instanceof ApiCallError) this.opts.log.debug(`${job?.data.customId ?? '?'}: attempt ${job?.attemptsMade ?? '?'} failed: ${err.message}`);
    });
    this.workers.set(run, worker);
    this.parking.forget(run);
    this.startBatchDriver(run);
    await worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and waits for jobs in flight up to `graceMs`. Returns false when some were still
   * running then: they are abandoned (not failed, no attempt used) and come back through another
   * worker's stalled check, so the caller may exit at once.
   * @param graceMs @default QUEUE_DEFAULTS.closeGraceMs
   */
  async close(graceMs: number = QUEUE_DEFAULTS.closeGraceMs): Promise<boolean> {
    this.closing = true;
    await this.stopBatchDrivers();
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
  private recordBudget(run: string, budget: Budget, model: string, baseUrl: string): void {
    const k = `${run}\0${budget.id}`;
    if (this.recorded.has(k)) return;
    this.recorded.add(k);
    new RunStore(this.opts.redis, run, this.opts.prefix).recordBudget(budget.id).catch(() => this.recorded.delete(k));
    budget.writeLabel(model, baseUrl).catch(() => {});
  }

  private clientFor(settings: RunSettings): OpenResponsesClient {
    const baseUrl = this.opts.baseUrl ?? settings.baseUrl;
    const timeoutMs = callTimeoutMs(settings);
    const key = `${baseUrl}\0${timeoutMs}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new OpenResponsesClient({ baseUrl, apiKey: this.opts.apiKey, timeoutMs });
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * A call of the run failed (./circuit.ts). Failures for want of an answer count toward the run's
   * circuit breaker, over every worker; the one that reaches it stops the run like a refused key
   * does, and the items whose calls fail from then on go back to the queue without a line.
   */
  private async apiFailed(settings: RunSettings, err: ApiCallError): Promise<boolean> {
    const run = settings.run;
    const signal = callSignal(err);
    if (signal === 'answered') this.apiAnswered(run);
    if (signal !== 'unavailable') return false;
    if (this.stopped.has(run)) return true;
    const { state, ...streak } = await new RunStore(this.opts.redis, run, this.opts.prefix).recordApiFailure();
    if (state === 'stopped') {
      this.learnStopped(run);
      return true;
    }
    // The streak must outlast the first retry delay: see isOpen.
    if (!isOpen(streak, settings.circuitBreaker ?? DEFAULTS.circuit_breaker, settings.backoffMs)) return false;
    await this.stopRun(run, unavailableReason(this.opts.baseUrl ?? settings.baseUrl, streak.failures, err.message), 'api_unavailable');
    return true;
  }

  /** Any answer resets the run's count of failures in a row: one round trip per turn of the event loop. */
  /** When each run's count of API failures was last reset from here. */
  private readonly lastReset = new Map<string, number>();

  /**
   * An answer resets the run's shared count of API failures in a row. At most one reset per run every
   * RESET_EVERY_MS from a process: the circuit opens only on a streak that lasts longer than that, and
   * a reset per answer would add a Redis call to every call's path. A success
   * within that time of the last reset is not sent: only a streak that already lasts nearly its whole
   * minimum span could be counted as unbroken because of it.
   */
  private apiAnswered(run: string): void {
    const now = Date.now();
    if (now - (this.lastReset.get(run) ?? 0) < RESET_EVERY_MS) return;
    this.lastReset.set(run, now);
    this.batchers(run).answered.submit(null).catch((err: Error) => {
      this.lastReset.delete(run);
      this.opts.log.debug(`run ${run}: resetting the count of API failures: ${err.message}`);
    });
  }

  /** Another process stopped the run: this one stops too, and says why once. */
  private learnStopped(run: string): void {
    if (this.stopped.has(run)) return;
    this.stopped.add(run);
    loadRun(this.opts.redis, run, this.opts.prefix)
      .then((status) => {
        if (status?.state === 'stopped') this.opts.log.error(`run ${run} stopped: ${status.stopReason ?? 'unknown reason'}`);
      })
      .catch(() => {});
  }

  private async stopRun(run: string, reason: string, kind: StopKind = 'key_refused'): Promise<void> {
    if (this.stopped.has(run)) return;
    this.stopped.add(run);
    this.opts.log.error(`run ${run} stopped: ${reason}`);
    // Pausing the queue stops every worker on every machine from taking more of its jobs.
    const queue = new Queue(run, { connection: this.opts.redis, prefix: bullPrefix(this.opts.prefix) });
    try {
      await Promise.all([queue.pause(), new RunStore(this.opts.redis, run, this.opts.prefix).markStopped(reason, kind)]);
    } finally {
      await queue.close();
    }
  }

  private async backoff(attemptsMade: number, type: string | undefined, err: Error | undefined, data: JobData | undefined): Promise<number> {
    if (type !== BACKOFF_TYPE) return 0;
    const settings = data ? await this.runs.get(data.run) : null;
    const retryAfter = err instanceof ApiCallError ? err.retryAfterMs : null;
    return backoffDelayMs(attemptsMade, { baseMs: settings?.backoffMs ?? DEFAULTS.backoff_ms, maxMs: settings?.maxBackoffMs ?? DEFAULTS.max_backoff_ms }, retryAfter);
  }
}

/**
 * Jobs held beyond the call slots: a tenth of them. Below 10 slots, none: the gap is a few calls'
 * worth of milliseconds there, and `active` in `status` stays equal to the calls in flight.
 */
export function jobHeadroom(concurrency: number): number {
  return Math.floor(concurrency / 10);
}
