/**
 * The BullMQ processor: one job in, its item's results line delivered. The work is in three pieces,
 * each readable on its own:
 * - ./prepare-call.ts: images, request body, model and token estimate (no job needed);
 * - ./budgeted-call.ts: a call within the key's budget, the item's call claim and the 429 loop;
 * - ../core/results-line.ts: the pure function from what happened to the item to its line.
 * This file decides what happened: answered, failed for good, retried, put back, skipped, cancelled.
 */
import type { Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { DEFAULTS } from '../config/defaults.js';
import { DelayedError, WaitingError } from '../core/cjs-deps.js';
import type { JobData } from '../core/item.js';
import type { HttpRecord, OutputLine } from '../core/output-line.js';
import { rejectedJobLine, resultsLine, type AnsweredResponse, type LineContext, type LineOutcome } from '../core/results-line.js';
import type { RunSettings } from '../queue/run-meta.js';
import { BudgetedCall, type CallPath } from './budgeted-call.js';
import { busyRetryAt, CallNotMadeError } from './call-claim.js';
import { decide, errorFromFailedResponse } from './classify.js';
import type { CreateResponseResult, OpenResponsesClient } from './client.js';
import { withinCost, type CostDecision } from './cost-hooks.js';
import type { DedupeHook } from './dedupe.js';
import { ApiCallError } from './errors.js';
import type { Budget } from './limits/budget.js';
import { parseResponse, type ParsedResponse } from './parse-response.js';
import { asksForFlex, ImageUnreadableError, prepareCall, type PreparedCall } from './prepare-call.js';
import type { FlexFallback } from './flex.js';
import { requestKey } from './request-key.js';
import { askStructured, type Answer } from './structured/ask.js';
import { httpRecord, httpRecordOfError } from './structured/http-record.js';
import { progressOf, saveProgress, savedSamples } from './structured/progress.js';

type ItemJob = Extract<JobData, { type: 'item' }>;

/** What the worker set lends the processor: the call path, run settings and state, the ledger's ends. */
export interface ProcessorContext extends CallPath {
  runs: { get(run: string): Promise<RunSettings | null> };
  /** The tier an `auto` run's items go by now (src/batch/mode.ts); absent: `auto` items go at the standard tier. */
  modeNow?(settings: RunSettings): Promise<'batch' | 'flex' | 'online'>;
  clientFor(settings: RunSettings): OpenResponsesClient;
  /** Stops the run for every worker (the key was refused); idempotent. */
  stopRun(run: string, reason: string): Promise<void>;
  isStopped(run: string): boolean;
  /** Ends this owner's claim when its attempt failed, so the next attempt need not wait for it. */
  releaseCall(run: string, jobId: string, owner: string): Promise<void>;
  /** Hands the item's final line to the run's collector (through Redis). */
  deliver(run: string, jobId: string, line: OutputLine, data: JobData): Promise<void>;
  /** The shared budget of the API key this worker uses, for `model`. */
  budgetFor(settings: RunSettings, model: string): Budget;
  /**
   * A call failed (any answer but a 429 comes here too). True when the run is stopped because its API
   * is unavailable (this failure opened the circuit, or another one did): the item then goes back to
   * the queue without a line.
   */
  apiFailed?(settings: RunSettings, err: ApiCallError): Promise<boolean>;
  /** The run's budget cap (max_cost), when it has one: reserve this call's cost, or skip the item. */
  reserveCost?(settings: RunSettings, model: string, body: Record<string, unknown>, jobId: string, calls: number, signal?: AbortSignal): Promise<CostDecision | undefined>;
  /** One call per identical request of a run (src/worker/dedupe.ts); absent: every item calls. */
  dedupe?: DedupeHook;
}

/** Thrown when an item is put back in the queue without using an attempt (the run was stopped). */
export class PutBackError extends WaitingError {}

/**
 * From `inCallSlot` when the worker is closing, or the run was stopped by another process (the key
 * was refused there): a job still waiting for a slot makes no call and goes back to the queue as it was.
 */
export class PutBackBeforeCallError extends Error {
  override name = 'PutBackBeforeCallError';
}

/**
 * From `inCallSlot` when the run was cancelled while the job waited for a slot: the job was already
 * out of the queue, so `respool cancel` could not end it; it ends here as a cancelled line instead of
 * making its call.
 */
export class RunCancelledError extends Error {
  override name = 'RunCancelledError';
}

/**
 * Turns one job into its output line and delivers it. Every outcome that is final for the item becomes
 * a line; only errors worth another attempt are thrown, and BullMQ schedules the retry with respool's
 * backoff strategy.
 */
export function createProcessor(ctx: ProcessorContext) {
  return async function process(job: Job<JobData>, token?: string, signal?: AbortSignal): Promise<void> {
    const data = job.data;
    const jobId = job.id!;
    // Whether this job may call is the ledger's decision, taken right before each call (the call
    // claim), not the job's history: a job added again after the item's first job completed, or a job
    // run twice, finds the item done or claimed and pays for nothing.
    const owner = token ?? randomUUID();
    let line: OutputLine;
    try {
      line = await lineOf(ctx, job, token, signal, owner);
    } catch (err) {
      if (err instanceof CallNotMadeError) return endWithoutCall(job, token, err);
      await ctx.releaseCall(data.run, jobId, owner).catch(() => {});
      throw err;
    }
    // Sharing the answer with identical items goes with the delivery, before the job completes.
    await Promise.all([ctx.deliver(data.run, jobId, line, data), ctx.dedupe?.settle(job, line)]);
  };
}

/** A job that found its item done (or its run gone) ends without a line; one that found it claimed comes back later. */
async function endWithoutCall(job: Job<JobData>, token: string | undefined, err: CallNotMadeError): Promise<void> {
  if (err.claim.state !== 'busy') return;
  await job.moveToDelayed(busyRetryAt(Date.now(), err.claim.waitMs), token);
  throw new DelayedError();
}

/** The run's settings, with an `auto` run's current tier as its mode: a switch to flex sends flex calls. */
async function sendingSettings(ctx: ProcessorContext, run: string): Promise<RunSettings | null> {
  const settings = await ctx.runs.get(run);
  if (settings?.mode !== 'auto' || !ctx.modeNow) return settings;
  return { ...settings, mode: (await ctx.modeNow(settings)) === 'flex' ? 'flex' : 'online' };
}

/** The item's line; throws to retry the job (BullMQ) or after putting it back in the queue. */
async function lineOf(ctx: ProcessorContext, job: Job<JobData>, token: string | undefined, signal: AbortSignal | undefined, owner: string): Promise<OutputLine> {
  const data = job.data;
  if (data.type === 'rejected') return rejectedJobLine(data, new Date());
  const settings = await sendingSettings(ctx, data.run);
  if (!settings) return resultsLine(notCalled(data, ''), { kind: 'internal', message: `no settings found in Redis for run ${data.run}` });
  if (ctx.isStopped(data.run)) return putBack(job, token);

  let call: PreparedCall;
  try {
    call = await prepareCall(data.request, settings);
  } catch (err) {
    // The file was fine when it was enqueued; it changed or vanished since. That is bad input too.
    if (err instanceof ImageUnreadableError) return resultsLine(notCalled(data, settings.model), { kind: 'rejected', message: err.message });
    throw err;
  }
  // Batch-style lines are sent as they are: the run's schema checks and samples are not theirs.
  const plan = data.request.kind === 'body' ? undefined : settings.structured;
  // An identical request of the run already answered, or being answered: no call of its own.
  if (ctx.dedupe && settings.dedupe !== false) {
    const shared = await ctx.dedupe.before(job, token, requestKey({ body: call.body, plan, outputFormat: settings.outputFormat }));
    if (shared) return shared;
  }
  // The budget cap reserves every sample of the item at once, and settles their summed usage.
  const spend = await ctx.reserveCost?.(settings, call.model, call.body, job.id!, plan?.samples ?? 1, signal);
  if (spend && 'skip' in spend) return resultsLine(notCalled(data, call.model), { kind: 'skipped', message: spend.skip });

  const attempt = new ItemAttempt(ctx, job, settings, call, owner, signal);
  const outcome = await attempt.run(spend);
  if (outcome === 'put-back') return putBack(job, token);
  return resultsLine(attempt.lineContext(outcome), outcome);
}

/** The line context of an item that made no call. */
function notCalled(data: ItemJob, model: string): LineContext {
  return { item: data, model, attempts: 0, latencyMs: null, rateLimited: 0, finishedAt: new Date() };
}

/**
 * One attempt of one item: its calls (one, or one per sample and re-ask) and what they came to. Holds
 * what the line reports of them: the last call's latency and HTTP answer, the 429s, a failed response.
 */
class ItemAttempt {
  private readonly data: ItemJob;
  private readonly attempt: number;
  private readonly calls: BudgetedCall;
  private readonly keepHttp: boolean;
  private latencyMs: number | null = null;
  private lastRes: CreateResponseResult | null = null;
  /** A 200 whose status is "failed" still has an id and may have usage: a failed line keeps them. */
  private failedResponse: ParsedResponse | null = null;
  /** The error the item failed with for good: its call's duration is the line's. */
  private finalError: ApiCallError | null = null;

  constructor(
    private readonly ctx: ProcessorContext,
    private readonly job: Job<JobData>,
    private readonly settings: RunSettings,
    private readonly call: PreparedCall,
    owner: string,
    signal: AbortSignal | undefined,
  ) {
    this.data = job.data as ItemJob;
    this.attempt = job.attemptsMade + 1;
    this.keepHttp = settings.outputFormat === 'openai-batch';
    const spec = {
      run: this.data.run,
      jobId: job.id!,
      owner,
      client: ctx.clientFor(settings),
      budget: ctx.budgetFor(settings, call.model),
      estimatedTokens: call.tokens.total,
      body: call.body,
      signal,
      flex: asksForFlex(call.body) ? this.flexFallback() : undefined,
    };
    // 429s of earlier attempts travel in the job's progress, so the line counts them all.
    this.calls = new BudgetedCall(ctx, spec, rateLimitedSoFar(job));
  }

  /** A flex item's fallback to the default tier, timed from its first refusal (kept in the job's progress). */
  private flexFallback(): FlexFallback {
    const since = progressOf(this.job).flex_refused_at;
    return {
      fallbackMs: this.settings.flexFallbackMs ?? DEFAULTS.flex_fallback_ms,
      refusedSince: typeof since === 'number' ? since : null,
      noteFirstRefusal: (at) => saveProgress(this.job, { flex_refused_at: at }),
      backoff: { baseMs: this.settings.backoffMs, maxMs: this.settings.maxBackoffMs },
      defaultTierTimeoutMs: this.settings.timeoutMs,
    };
  }

  /** What the attempt came to, or `put-back` (the item goes back to the queue without a line). Throws to retry. */
  async run(spend: CostDecision | undefined): Promise<LineOutcome | 'put-back'> {
    const plan = this.data.request.kind === 'body' ? undefined : this.settings.structured;
    try {
      const { structured, answer } = await withinCost(spend, async () => {
        const structured = plan
          ? await askStructured(plan, this.job.id!, (key) => this.askOnce(key), {
              done: savedSamples(this.job),
              onSample: (done) => saveProgress(this.job, { rate_limited: this.calls.rateLimited, samples: [...done] }),
            })
          : null;
        const answer = structured?.answer ?? (await this.askOnce(this.job.id!));
        return { structured, answer, json: { model: answer.response.model, usage: structured?.fields.usage ?? answer.response.usage } };
      });
      // askOnce threw for every other status: this is a completed or incomplete response.
      const response = answer.response as ParsedResponse & AnsweredResponse;
      return { kind: 'answer', response, wantsJson: this.call.wantsJson, structured: structured?.fields ?? null, http: answer.raw };
    } catch (err) {
      return this.afterError(err);
    }
  }

  /** The facts of the attempt's calls that its line reports. */
  lineContext(outcome: LineOutcome): LineContext {
    const base = { item: this.data, model: this.call.model, rateLimited: this.calls.rateLimited, finishedAt: new Date() };
    if (outcome.kind === 'cancelled') return { ...base, attempts: this.job.attemptsMade, latencyMs: null };
    if (outcome.kind === 'failed') return { ...base, attempts: this.attempt, latencyMs: this.finalError?.latencyMs ?? this.latencyMs };
    return { ...base, attempts: this.attempt, latencyMs: this.latencyMs };
  }

  /** One call, read; a response that failed is thrown like any other API error. */
  private async askOnce(key: string): Promise<Answer<HttpRecord | null>> {
    const res = await this.calls.send(key);
    this.lastRes = res;
    this.latencyMs = res.latencyMs;
    const parsed = parseResponse(res.json, this.call.wantsJson);
    if (parsed.status === 'failed' || parsed.status === 'other') {
      this.failedResponse = parsed;
      const err = errorFromFailedResponse(parsed.error ?? { code: parsed.rawStatus, message: `response status "${parsed.rawStatus}"` });
      err.latencyMs = this.latencyMs;
      throw err;
    }
    return { response: parsed, raw: this.keepHttp ? httpRecord(res.status, res.headers, res.json) : null };
  }

  /** An error of the attempt: a final line, a put-back, or thrown again for BullMQ to retry. */
  private async afterError(err: unknown): Promise<LineOutcome | 'put-back'> {
    if (err instanceof PutBackBeforeCallError) return 'put-back';
    if (err instanceof RunCancelledError) return { kind: 'cancelled' };
    if (!(err instanceof ApiCallError)) throw err; // a caller abort or a bug: BullMQ retries it
    if (await this.ctx.apiFailed?.(this.settings, err)) return 'put-back';
    switch (decide(err, this.attempt, this.settings.attempts)) {
      case 'stop-run':
        await this.ctx.stopRun(this.data.run, err.message);
        return 'put-back';
      case 'retry':
        if (this.calls.rateLimited > rateLimitedSoFar(this.job)) await saveProgress(this.job, { rate_limited: this.calls.rateLimited });
        throw err;
      case 'give-up':
        this.finalError = err;
        return { kind: 'failed', error: err.toLineError(), response: this.failedResponse, http: this.keepHttp ? this.httpOfFailure(err) : null };
    }
  }

  /** The HTTP answer a failed line of an `openai-batch` run reports: the failed response, or the error's. */
  private httpOfFailure(err: ApiCallError): HttpRecord | null {
    const res = this.lastRes;
    return this.failedResponse && res ? httpRecord(res.status, res.headers, res.json) : httpRecordOfError(err);
  }
}

function rateLimitedSoFar(job: Job<JobData>): number {
  const n = progressOf(job).rate_limited;
  return typeof n === 'number' ? n : 0;
}

async function putBack(job: Job<JobData>, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new PutBackError();
}
