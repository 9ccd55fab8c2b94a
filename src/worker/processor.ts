import type { Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { DelayedError, WaitingError } from '../core/cjs-deps.js';
import type { ImageRef, JobData } from '../core/item.js';
import type { HttpRecord, OutputLine } from '../core/output-line.js';
import type { CallClaim } from '../queue/ledger.js';
import type { RunSettings } from '../queue/run-meta.js';
import { busyRetryAt, CallNotMadeError } from './call-claim.js';
import { buildRequestBody, wantsJsonOutput } from './build-request.js';
import { imageDataUri } from './images/prepare.js';
import { decide, errorFromFailedResponse } from './classify.js';
import type { OpenResponsesClient } from './client.js';
import { ApiCallError, RateLimitedError } from './errors.js';
import type { Budget } from './limits/budget.js';
import { estimateRequestTokens } from '../cost/token-estimate.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import { baseLine, cancelledLine, failedLine, rejectedLine } from './line-builders.js';
import { parseResponse, type ParsedResponse } from './parse-response.js';
import type { RequestSettings } from './request-settings.js';
import type { RunCache } from './run-cache.js';
import { askStructured, type Answer } from './structured/ask.js';
import { httpRecord, httpRecordOfError } from './structured/http-record.js';
import { saveProgress, savedSamples } from './structured/progress.js';
import { skippedLine, withinCost, type CostDecision } from './cost-hooks.js';
import type { DedupeHook } from './dedupe.js';
import { requestKey } from './request-key.js';

type ItemJob = Extract<JobData, { type: 'item' }>;

export interface ProcessorContext {
  runs: RunCache;
  clientFor(settings: RunSettings): OpenResponsesClient;
  /**
   * Waits `ms` out of the call slots after a sporadic 429 (only this call waits). The run's worker
   * may take one more job meanwhile, so that the waiting job does not keep a call slot idle.
   */
  waitAfter429(run: string, ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs one call (budget, request, settle) in one of the run's `concurrency` call slots. */
  inCallSlot<T>(run: string, call: () => Promise<T>): Promise<T>;
  /** Stops the run for every worker (the key was refused); idempotent. */
  stopRun(run: string, reason: string): Promise<void>;
  isStopped(run: string): boolean;
  /**
   * The ledger's call claim, taken right before each API call: `go` or why not (the item's line is
   * delivered or written, another job's claim is live, the run's state is gone).
   */
  claimCall(run: string, jobId: string, owner: string): Promise<CallClaim>;
  /** Ends this owner's claim when its attempt failed, so the next attempt need not wait for it. */
  releaseCall(run: string, jobId: string, owner: string): Promise<void>;
  /** Hands the item's final line to the run's collector (through Redis). */
  deliver(run: string, jobId: string, line: OutputLine, data: JobData): Promise<void>;
  limiter: RateLimiter;
  /** The shared budget of the API key this worker uses, for `model`. */
  budgetFor(settings: RunSettings, model: string): Budget;
  /** A call got an answer (2xx, 429): the run's count of API failures in a row starts again (./circuit.ts). */
  apiAnswered?(run: string): void;
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

/** 429s answered for one attempt before it counts as a failed attempt after all. */
const MAX_RATE_LIMITED_PER_ATTEMPT = 100;

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
  const lineFor = lineMaker(ctx);
  return async function process(job: Job<JobData>, token?: string, signal?: AbortSignal): Promise<void> {
    const data = job.data;
    const jobId = job.id!;
    // Whether this job may call is the ledger's decision, taken right before each call (the call
    // claim), not the job's history: a job added again after the item's first job completed, or a job
    // run twice, finds the item done or claimed and pays for nothing.
    const owner = token ?? randomUUID();
    let line: OutputLine;
    try {
      line = await lineFor(job, token, signal, owner);
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

function lineMaker(ctx: ProcessorContext) {
  return async function lineFor(job: Job<JobData>, token: string | undefined, signal: AbortSignal | undefined, owner: string): Promise<OutputLine> {
    const data = job.data;
    if (data.type === 'rejected') return rejectedLine(data);
    const settings = await ctx.runs.get(data.run);
    if (!settings) {
      return failedLine(data, '', { type: 'internal', message: `no settings found in Redis for run ${data.run}`, status: null }, 0, null);
    }
    if (ctx.isStopped(data.run)) return putBack(job, token);

    let images: string[];
    try {
      images = await Promise.all(imageRefs(data).map((ref) => resolveImage(ref, settings)));
    } catch (err) {
      // The file was fine when it was enqueued; it changed or vanished since. That is bad input too.
      return { ...baseLine(data, settings.model), status: 'rejected', error: { type: 'rejected_input', message: (err as Error).message, status: null } };
    }

    const requestSettings = toRequestSettings(settings);
    const body = buildRequestBody(requestSettings, data.request, images);
    const attempt = job.attemptsMade + 1;
    let latencyMs: number | null = null;
    // A 200 whose status is "failed" still has an id and may have usage: a failed line keeps them.
    let failedResponse = null as ParsedResponse | null;
    const model = typeof body.model === 'string' ? body.model : settings.model;
    const budget = ctx.budgetFor(settings, model);
    const estimate = estimateRequestTokens(body, settings.expectedOutputTokens === undefined ? {} : { expectedOutputTokens: settings.expectedOutputTokens }).total;
    // 429s of earlier attempts travel in the job's progress, so the line counts them all.
    let rateLimited = rateLimitedSoFar(job);
    const runSettings: RunSettings = settings;

    // Waits for the shared budget, calls, and settles the budget with what the call really cost. A 429
    // pauses every worker of this key when the key is out of budget, else only this call waits (out
    // of its call slot, so other items go on); then the call is made again without using an attempt.
    async function callWithinBudget(idempotencyKey: string) {
      let rateLimitedThisAttempt = 0;
      for (;;) {
        let waitMs = 0;
        const res = await ctx.inCallSlot(data.run, async () => {
          signal?.throwIfAborted();
          const lease = await ctx.limiter.acquire(budget, estimate, job.id!, signal);
          const claim = await ctx.claimCall(data.run, job.id!, owner);
          if (claim.state !== 'go') {
            await ctx.limiter.settle(budget, lease, estimate, 0, null);
            throw new CallNotMadeError(claim);
          }
          try {
            const res = await ctx.clientFor(runSettings).createResponse(body, { signal, idempotencyKey });
            ctx.apiAnswered?.(data.run);
            const usage = (res.json as { usage?: { total_tokens?: unknown } } | null)?.usage;
            const actual = typeof usage?.total_tokens === 'number' ? usage.total_tokens : null;
            await ctx.limiter.settle(budget, lease, estimate, actual, res.headers);
            return res;
          } catch (err) {
            if (err instanceof RateLimitedError) {
              ctx.apiAnswered?.(data.run);
              rateLimited++;
              rateLimitedThisAttempt++;
              ({ waitMs } = await ctx.limiter.onRateLimited(budget, lease, estimate, err));
              // Past the cap (a quota that never comes back answers 429 too), the 429 uses an attempt.
              if (rateLimitedThisAttempt < MAX_RATE_LIMITED_PER_ATTEMPT) return null;
              throw err;
            }
            // A refused call costs no tokens; an unanswered one may have (the estimate stays charged).
            await ctx.limiter.settle(budget, lease, estimate, err instanceof ApiCallError && err.status !== null ? 0 : null, null);
            throw err;
          }
        });
        if (res) return res;
        if (waitMs > 0) await ctx.waitAfter429(data.run, waitMs, signal);
      }
    }
    // One call, read; a response that failed is thrown like any other API error.
    let lastRes = null as Awaited<ReturnType<typeof callWithinBudget>> | null;
    const wantsJson = wantsJsonOutput(requestSettings, data.request);
    const keepHttp = settings.outputFormat === 'openai-batch';
    async function askOnce(key: string): Promise<Answer<HttpRecord | null>> {
      const res = await callWithinBudget(key);
      lastRes = res;
      latencyMs = res.latencyMs;
      const parsed = parseResponse(res.json, wantsJson);
      if (parsed.status === 'failed' || parsed.status === 'other') {
        failedResponse = parsed;
        const err = errorFromFailedResponse(parsed.error ?? { code: parsed.rawStatus, message: `response status "${parsed.rawStatus}"` });
        err.latencyMs = latencyMs;
        throw err;
      }
      return { response: parsed, raw: keepHttp ? httpRecord(res.status, res.headers, res.json) : null };
    }
    // Batch-style lines are sent as they are: the run's schema checks and samples are not theirs.
    const plan = data.request.kind === 'body' ? undefined : settings.structured;
    // An identical request of the run already answered, or being answered: no call of its own.
    if (ctx.dedupe && settings.dedupe !== false) {
      const shared = await ctx.dedupe.before(job, token, requestKey({ body, plan, outputFormat: settings.outputFormat }));
      if (shared) return shared;
    }
    // The budget cap reserves every sample of the item at once, and settles their summed usage.
    const spend = await ctx.reserveCost?.(settings, model, body, job.id!, plan?.samples ?? 1, signal);
    if (spend && 'skip' in spend) return skippedLine(data, model, spend.skip);
    try {
      const { structured, answer } = await withinCost(spend, async () => {
        const structured = plan
          ? await askStructured(plan, job.id!, askOnce, { done: savedSamples(job), onSample: (done) => saveProgress(job, { rate_limited: rateLimited, samples: [...done] }) })
          : null;
        const answer = structured?.answer ?? (await askOnce(job.id!));
        return { structured, answer, json: { model: answer.response.model, usage: structured?.fields.usage ?? answer.response.usage } };
      });
      const parsed = answer.response;
      const line: OutputLine = {
        ...baseLine(data, parsed.model ?? model),
        // askOnce threw for every other status.
        status: parsed.status as 'completed' | 'incomplete',
        output_text: parsed.outputText,
        usage: parsed.usage,
        response_id: parsed.responseId,
        attempts: attempt,
        latency_ms: latencyMs,
      };
      if (rateLimited > 0) line.rate_limited = rateLimited;
      if (parsed.refusal !== null) line.refusal = parsed.refusal;
      if ('parsed' in parsed) line.parsed = parsed.parsed ?? null;
      else if (wantsJsonOutput(requestSettings, data.request)) line.parsed = null;
      if (parsed.status === 'incomplete') {
        line.error = { type: 'incomplete', message: parsed.incompleteReason ?? 'response incomplete', status: null };
      }
      if (structured) Object.assign(line, structured.fields, { model: structured.fields.model ?? model });
      if (answer.raw) line.http = answer.raw;
      return line;
    } catch (err) {
      if (err instanceof PutBackBeforeCallError) return putBack(job, token);
      if (err instanceof RunCancelledError) {
        const line = cancelledLine(data, model, job.attemptsMade);
        if (rateLimited > 0) line.rate_limited = rateLimited;
        return line;
      }
      if (!(err instanceof ApiCallError)) throw err; // a caller abort or a bug: BullMQ retries it
      if (await ctx.apiFailed?.(settings, err)) return putBack(job, token);
      switch (decide(err, attempt, settings.attempts)) {
        case 'stop-run':
          await ctx.stopRun(data.run, err.message);
          return putBack(job, token);
        case 'retry':
          if (rateLimited > rateLimitedSoFar(job)) await saveProgress(job, { rate_limited: rateLimited });
          throw err;
        case 'give-up': {
          const line = failedLine(data as ItemJob, failedResponse?.model ?? model, err.toLineError(), attempt, err.latencyMs ?? latencyMs);
          if (rateLimited > 0) line.rate_limited = rateLimited;
          if (failedResponse) {
            line.response_id = failedResponse.responseId;
            line.usage = failedResponse.usage;
          }
          if (keepHttp) {
            const http = failedResponse && lastRes ? httpRecord(lastRes.status, lastRes.headers, lastRes.json) : httpRecordOfError(err);
            if (http) line.http = http;
          }
          return line;
        }
      }
    }
  };
}

function rateLimitedSoFar(job: Job<JobData>): number {
  const p = job.progress as { rate_limited?: unknown } | number | undefined;
  return typeof p === 'object' && p !== null && typeof p.rate_limited === 'number' ? p.rate_limited : 0;
}

async function putBack(job: Job<JobData>, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new PutBackError();
}

function imageRefs(data: ItemJob): ImageRef[] {
  return data.request.kind === 'body' ? [] : data.request.images;
}

/** What an image of the item is sent as: its URL, or its file prepared as `resize` and `detail` say. */
export function resolveImage(ref: ImageRef, s: RunSettings): Promise<string> {
  if (ref.kind === 'url') return Promise.resolve(ref.url);
  return imageDataUri(ref, { detail: s.detail, resize: s.resize ?? 'off', maxBytes: s.maxImageBytes });
}

export function toRequestSettings(s: RunSettings): RequestSettings {
  return {
    model: s.model,
    ...(s.instructions === undefined ? {} : { instructions: s.instructions }),
    ...s.request,
    detail: s.detail,
  } as RequestSettings;
}
