/**
 * One line of a provider batch's output or error file, turned into the item's results line, or into
 * "send it again" (pure). An answer reads exactly as the same answer to an online call would: the same
 * response parsing, the same error classification and attempt counting, the same schema check (without
 * re-asks: a batch asks once). Lines record `service_tier: "batch"`.
 */
import type { JobData } from '../core/item.js';
import type { HttpRecord, OutputLine } from '../core/output-line.js';
import type { RunSettings } from '../queue/run-meta.js';
import { decide, errorFromFailedResponse } from '../worker/classify.js';
import { wantsJsonOutput } from '../worker/build-request.js';
import type { ApiCallError } from '../worker/errors.js';
import { resultsLine, type AnsweredResponse, type LineContext } from '../core/results-line.js';
import { parseResponse } from '../worker/parse-response.js';
import { toRequestSettings } from '../worker/prepare-call.js';
import { askStructured } from '../worker/structured/ask.js';
import type { BatchOutputLine } from './types.js';
import { isNotRunCode, outcomeOf } from './read-output.js';

type ItemJob = Extract<JobData, { type: 'item' }>;

export const BATCH_TIER = 'batch';

export type BatchAnswer =
  | { kind: 'line'; line: OutputLine }
  /** Worth another try (in a new batch, or online); `counts`: it uses one of the item's attempts. */
  | { kind: 'again'; reason: string; counts: boolean };

/**
 * The item's line from its batch output line. `tries`: the item's earlier batch answers that were
 * worth another try (each used an attempt).
 */
export async function answerOfBatchLine(out: BatchOutputLine, data: ItemJob, settings: RunSettings, tries: number): Promise<BatchAnswer> {
  const attempt = tries + 1;
  const model = requestedModel(data, settings);
  const keepHttp = settings.outputFormat === 'openai-batch';
  const outcome = outcomeOf(out);
  const http: HttpRecord | null = out.response ? { status_code: out.response.status_code, request_id: out.response.request_id ?? null, body: out.response.body } : null;
  if (outcome.kind !== 'answered') {
    // Not run at all (the batch expired or was cancelled first): sent again without using an attempt.
    if (outcome.kind === 'retry' && isNotRunCode(outcome.error.details?.code)) return { kind: 'again', reason: outcome.error.message, counts: false };
    return afterError(outcome.error, data, model, attempt, settings, keepHttp ? http : null, null);
  }
  const wantsJson = wantsJsonOutput(toRequestSettings(settings), data.request);
  const parsed = parseResponse(outcome.body, wantsJson);
  if (parsed.status === 'failed' || parsed.status === 'other') {
    const err = errorFromFailedResponse(parsed.error ?? { code: parsed.rawStatus, message: `response status "${parsed.rawStatus}"` });
    return afterError(err, data, parsed.model ?? model, attempt, settings, keepHttp ? http : null, parsed);
  }
  const response = parsed as typeof parsed & AnsweredResponse;
  // Batch-style items are sent as they are: the run's schema check is not theirs.
  const plan = data.request.kind === 'body' ? undefined : settings.structured;
  // One sample, no re-asks: the batch asked once (docs/modes.md#batch).
  const structured = plan && parsed.status === 'completed' ? await askStructured({ ...plan, samples: 1, invalidRetries: 0 }, data.customId, () => Promise.resolve({ response: parsed, raw: null })) : null;
  const line = resultsLine(lineContext(data, model, attempt), { kind: 'answer', response, wantsJson, structured: structured?.fields ?? null });
  if (keepHttp && http) line.http = http;
  return { kind: 'line', line: tierLine(line) };
}

function afterError(err: ApiCallError, data: ItemJob, model: string, attempt: number, settings: RunSettings, http: HttpRecord | null, parsed: ReturnType<typeof parseResponse> | null): BatchAnswer {
  // A refused key cannot show up per line of a batch the key submitted; it is an error like any other here.
  const decision = err.stopsRun ? 'give-up' : decide(err, attempt, settings.attempts);
  if (decision === 'retry') return { kind: 'again', reason: err.message, counts: true };
  const response = parsed ? { model: parsed.model ?? null, responseId: parsed.responseId, usage: parsed.usage } : null;
  const line = resultsLine(lineContext(data, model, attempt), { kind: 'failed', error: err.toLineError(), response });
  if (http) line.http = http;
  return { kind: 'line', line: tierLine(line) };
}

/** The model the item asked for: a batch-style line's own, else the run's. */
function requestedModel(data: ItemJob, settings: RunSettings): string {
  const own = data.request.kind === 'body' ? data.request.body.model : undefined;
  return typeof own === 'string' ? own : settings.model;
}

/** A batch line has no latency of its own and no 429s: the provider ran the call. */
function lineContext(data: ItemJob, model: string, attempts: number): LineContext {
  return { item: data, model, attempts, latencyMs: null, rateLimited: 0, finishedAt: new Date() };
}

function tierLine(line: OutputLine): OutputLine {
  return { ...line, service_tier: BATCH_TIER };
}
