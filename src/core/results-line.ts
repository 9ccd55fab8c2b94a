/**
 * The one module that builds results lines (docs/output-line.md). Workers, the collector, `respool
 * cancel` and the duplicate path all describe what happened to an item as a `LineOutcome` and get its
 * line from `resultsLine`; nothing else writes a `status`. Pure: no I/O and no clock (the caller
 * passes the time the item finished), so that every outcome is unit-tested (test/unit/results-line.test.ts).
 *
 * `cost` and `metadata` are not set here: the worker adds them on delivery, from the run's prices.
 */
import type { JobData } from './item.js';
import type { HttpRecord, LineError, OutputLine, SamplesRecord, Usage } from './output-line.js';

/** What a line says about its item: the identity every line of the item shares. */
export type LineItem = Pick<JobData, 'customId' | 'source' | 'run'>;

/** A response the API answered with `completed` or `incomplete`, as the worker read it. */
export interface AnsweredResponse {
  status: 'completed' | 'incomplete';
  model: string | null;
  outputText: string | null;
  refusal: string | null;
  usage: Usage | null;
  responseId: string | null;
  incompleteReason: string | null;
  /** JSON.parse(outputText), when JSON output was asked for and it parsed. */
  parsed?: unknown;
  /** The tier that served the call, as the response's `service_tier` said; null or absent when it said none. */
  serviceTier?: string | null;
}

/** What a structured answer's fields take from the response that the line reports. */
export type ResponseFacts = Pick<AnsweredResponse, 'model' | 'outputText' | 'refusal' | 'usage' | 'responseId' | 'incompleteReason'>;

/** The facts of a `failed` response (HTTP 200, status `failed`) that its line keeps. */
export interface FailedResponse {
  model: string | null;
  responseId: string | null;
  usage: Usage | null;
}

/** The fields of a structured (schema-checked, maybe sampled) answer that replace the single call's. */
export type StructuredFields = Pick<OutputLine, 'status' | 'output_text' | 'parsed' | 'usage' | 'response_id' | 'model'> & {
  refusal?: string;
  error?: LineError;
  invalid_answers?: number;
  samples?: SamplesRecord;
  calls?: number;
};

/**
 * What happened to one item, as far as its line is concerned:
 * - `answer`: the API answered (completed or incomplete); `structured` when the run checks a schema.
 * - `failed`: an API error on the last attempt (or one not worth another); `response` when the API
 *   answered 200 with status `failed` (its id and usage are kept).
 * - `internal`: respool itself could not process the item.
 * - `rejected`: bad input (from the reader, or an image that changed since it was enqueued).
 * - `skipped`: not sent because the run's `max_cost` was reached.
 * - `cancelled`: `respool cancel` ended the run before the item was sent.
 * - `duplicate`: an identical request of the run was answered for another item; `answer` is its line.
 */
export type LineOutcome =
  | { kind: 'answer'; response: AnsweredResponse; wantsJson: boolean; structured?: StructuredFields | null; http?: HttpRecord | null }
  | { kind: 'failed'; error: LineError; response?: FailedResponse | null; http?: HttpRecord | null }
  | { kind: 'internal'; message: string }
  | { kind: 'rejected'; message: string }
  | { kind: 'skipped'; message: string }
  | { kind: 'cancelled' }
  | { kind: 'duplicate'; answer: OutputLine };

/** The facts of the item's calls that every outcome may report. */
export interface LineContext {
  item: LineItem;
  /** The model asked for (the response's own model wins when there was one); null when none applies. */
  model: string | null;
  /** Attempts used: calls that counted as attempts (0 when none was made). */
  attempts: number;
  /** Duration of the last call, when there was one. */
  latencyMs: number | null;
  /** Calls answered 429 over every attempt; shown only when > 0. */
  rateLimited: number;
  finishedAt: Date;
}

const CANCELLED_MESSAGE = 'the run was cancelled (respool cancel) before this item got its answer';

/** The line of one item's outcome. */
export function resultsLine(ctx: LineContext, outcome: LineOutcome): OutputLine {
  switch (outcome.kind) {
    case 'answer':
      return answerLine(ctx, outcome);
    case 'failed':
      return failedLine(ctx, outcome);
    case 'cancelled':
      return withRateLimited(errorLine(ctx, 'failed', { type: 'cancelled', message: CANCELLED_MESSAGE, status: null }), ctx.rateLimited);
    case 'internal':
      return errorLine(ctx, 'failed', { type: 'internal', message: outcome.message, status: null });
    case 'rejected':
      return errorLine(ctx, 'rejected', { type: 'rejected_input', message: outcome.message, status: null });
    case 'skipped':
      return errorLine(ctx, 'skipped', { type: 'max_cost', message: outcome.message, status: null });
    case 'duplicate':
      return duplicateLine(outcome.answer, ctx.item, ctx.finishedAt);
  }
}

/** A reader's rejection, or the line of a rejected job: no model, no call. */
export function rejectedJobLine(data: Extract<JobData, { type: 'rejected' }>, finishedAt: Date): OutputLine {
  return resultsLine({ item: data, model: null, attempts: 0, latencyMs: null, rateLimited: 0, finishedAt }, { kind: 'rejected', message: data.reason });
}

/**
 * The line for a job in BullMQ's failed state. Workers deliver every final outcome as a line, so a job
 * only gets there when respool itself could not process it (for example its worker died more often
 * than allowed); it still ends as one `failed` line, with nothing known to bill (docs/cost.md).
 */
export function abandonedJobLine(data: JobData, attemptsMade: number, reason: string, finishedAt: Date): OutputLine {
  const line = resultsLine(
    { item: data, model: null, attempts: attemptsMade, latencyMs: null, rateLimited: 0, finishedAt },
    { kind: 'internal', message: reason || 'the job finished without a result' },
  );
  return { ...line, cost: null };
}

/** The status-specific fields of a structured answer; src/worker/structured/ask.ts picks which. */
export const structuredFields = {
  /** An answer that matched the schema (after re-asks), or the majority of the samples. */
  valid(response: ResponseFacts, parsed: unknown, usage: Usage | null, extra: StructuredExtra): StructuredFields {
    return { ...answerFields(response), parsed, usage, ...extra };
  },
  /** No answer matched the schema after every re-ask: the last invalid one, and why. */
  invalid(response: ResponseFacts, parsed: unknown, usage: Usage | null, reason: string, extra: StructuredExtra): StructuredFields {
    return {
      ...answerFields(response),
      status: 'invalid_output',
      parsed: parsed ?? null,
      usage,
      error: { type: 'invalid_output', message: reason, status: null },
      ...extra,
    };
  },
  /** A cut-off answer: asking again would be cut off too. */
  incomplete(response: ResponseFacts, usage: Usage | null, extra: StructuredExtra): StructuredFields {
    return {
      ...answerFields(response),
      status: 'incomplete',
      usage,
      error: { type: 'incomplete', message: response.incompleteReason ?? 'response incomplete', status: null },
      ...extra,
    };
  },
};

/** Counts a structured answer reports only when they say something (> 0, or more than one call). */
export type StructuredExtra = Pick<StructuredFields, 'invalid_answers' | 'calls'>;

/** Fields every line of an item shares; the outcome fills in the rest. Key order is the file's column order. */
function baseLine(ctx: LineContext, model: string | null): OutputLine {
  return {
    custom_id: ctx.item.customId,
    status: 'failed',
    model,
    output_text: null,
    usage: null,
    response_id: null,
    attempts: ctx.attempts,
    latency_ms: ctx.latencyMs,
    source: ctx.item.source,
    run: ctx.item.run,
    finished_at: ctx.finishedAt.toISOString(),
  };
}

function errorLine(ctx: LineContext, status: OutputLine['status'], error: LineError): OutputLine {
  return { ...baseLine(ctx, ctx.model), status, error };
}

function answerLine(ctx: LineContext, outcome: Extract<LineOutcome, { kind: 'answer' }>): OutputLine {
  const r = outcome.response;
  const line: OutputLine = withRateLimited(
    {
      ...baseLine(ctx, r.model ?? ctx.model),
      status: r.status,
      output_text: r.outputText,
      usage: r.usage,
      response_id: r.responseId,
    },
    ctx.rateLimited,
  );
  if (r.refusal !== null) line.refusal = r.refusal;
  if ('parsed' in r) line.parsed = r.parsed ?? null;
  else if (outcome.wantsJson) line.parsed = null;
  if (r.status === 'incomplete') line.error = { type: 'incomplete', message: r.incompleteReason ?? 'response incomplete', status: null };
  if (outcome.structured) Object.assign(line, outcome.structured, { model: outcome.structured.model ?? ctx.model });
  if (outcome.http) line.http = outcome.http;
  if (typeof r.serviceTier === 'string') line.service_tier = r.serviceTier;
  return line;
}

function failedLine(ctx: LineContext, outcome: Extract<LineOutcome, { kind: 'failed' }>): OutputLine {
  const line = withRateLimited(errorLine(ctx, 'failed', outcome.error), ctx.rateLimited);
  const r = outcome.response;
  if (r) {
    line.model = r.model ?? ctx.model;
    line.response_id = r.responseId;
    line.usage = r.usage;
  }
  if (outcome.http) line.http = outcome.http;
  return line;
}

/** `rate_limited` goes right after the shared fields, where lines have always had it. */
function withRateLimited(line: OutputLine, rateLimited: number): OutputLine {
  if (rateLimited > 0) line.rate_limited = rateLimited;
  return line;
}

/**
 * The line of an item whose identical request was answered for `answer`'s item: the same outcome
 * (status, answer, usage, error, samples), its own identity (custom_id, source, run, time), no call
 * of its own (`attempts` 0, `latency_ms` null) and `duplicate_of` naming the item that called. A line
 * of the item itself (its job ran again after the answer was kept) is its own line, unchanged.
 */
function duplicateLine(answer: OutputLine, item: LineItem, finishedAt: Date): OutputLine {
  if (answer.custom_id === item.customId) return answer;
  // rate_limited counts the caller's own 429s; http, cost and metadata are the caller's or added later.
  const { rate_limited: _r, cost: _c, metadata: _m, duplicate_of: _d, ...outcome } = answer;
  return {
    ...outcome,
    custom_id: item.customId,
    source: item.source,
    run: item.run,
    finished_at: finishedAt.toISOString(),
    attempts: 0,
    latency_ms: null,
    duplicate_of: answer.custom_id,
  };
}

function answerFields(r: ResponseFacts): StructuredFields {
  return {
    status: 'completed',
    model: r.model,
    output_text: r.outputText,
    parsed: null,
    usage: r.usage,
    response_id: r.responseId,
    ...(r.refusal !== null ? { refusal: r.refusal } : {}),
  };
}
