/**
 * Lines of a batch's output and error files -> what happened to each item. Pure.
 *
 * - `answered`: the provider answered 2xx; `body` is parsed like an online answer (it may still say
 *   `status: "failed"` or `"incomplete"`, which the online parser handles).
 * - `retry`: worth sending again (5xx, 429, 408/409, timeouts, and requests the batch never ran
 *   because it expired or was cancelled).
 * - `final`: the request itself was refused (other 4xx); sending it again gives the same answer.
 *
 * Failures carry an error of the online error tree (src/worker/errors.ts), built by the online
 * classifier from the line's status and body, so a batch failure reads like the same online failure.
 */
import { errorFromResponse } from '../worker/classify.js';
import { type ApiCallError, InvalidRequestError, RequestTimeoutError, ServerError } from '../worker/errors.js';
import type { ResponseHeaders } from '../worker/response-headers.js';
import type { BatchOutputLine, BatchStatus, ProviderBatch } from './types.js';

export type BatchLineOutcome =
  | { kind: 'answered'; customId: string; status: number; body: unknown; requestId: string | null }
  | { kind: 'retry' | 'final'; customId: string; error: ApiCallError };

/** A line that names no item (not JSON, no custom_id): it cannot be matched, only counted and logged. */
export interface UnreadableLine {
  kind: 'unreadable';
  reason: string;
}

const NO_HEADERS: ResponseHeaders = { get: () => null };
/** Error codes of lines the batch did not run or that timed out inside the provider. */
const TIMEOUT_CODES = new Set(['request_timeout', 'timeout']);
const NOT_RUN_CODES = new Set(['batch_expired', 'batch_cancelled']);
/** Codes of a refused request: sending it again gets the same answer. */
const FINAL_CODES = new Set(['invalid_request', 'invalid_request_error', 'invalid_json', 'invalid_value', 'missing_required_parameter', 'model_not_found', 'content_policy_violation']);
/** How much of a line is quoted when it cannot be read. */
const QUOTE_CHARS = 80;

/** One line of an output or error file, as text. */
export function readBatchLine(text: string): BatchLineOutcome | UnreadableLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', reason: `not JSON: ${quote(text)}` };
  }
  const line = parsed as Partial<BatchOutputLine> | null;
  if (typeof line !== 'object' || line === null || typeof line.custom_id !== 'string' || line.custom_id === '') {
    return { kind: 'unreadable', reason: `no custom_id: ${quote(text)}` };
  }
  return outcomeOf(line as BatchOutputLine);
}

export function outcomeOf(line: BatchOutputLine): BatchLineOutcome {
  const customId = line.custom_id;
  const response = line.response;
  if (response && typeof response.status_code === 'number') {
    const status = response.status_code;
    if (status >= 200 && status <= 299) {
      return { kind: 'answered', customId, status, body: response.body, requestId: typeof response.request_id === 'string' ? response.request_id : null };
    }
    const error = errorFromResponse(status, NO_HEADERS, typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? null));
    return { kind: error.retryable ? 'retry' : 'final', customId, error };
  }
  const code = typeof line.error?.code === 'string' ? line.error.code : null;
  const said = typeof line.error?.message === 'string' && line.error.message !== '' ? line.error.message : 'no details';
  const message = `batch line ${code ?? 'without a code'}: ${said}`;
  const details = { message: said, type: null, param: null, code };
  if (code !== null && TIMEOUT_CODES.has(code)) return { kind: 'retry', customId, error: new RequestTimeoutError({ message, details }) };
  if (code !== null && FINAL_CODES.has(code)) return { kind: 'final', customId, error: new InvalidRequestError({ message, details }) };
  // Not run (expired, cancelled) and codes we do not know: sending again is the way not to lose the item;
  // the caller's attempt limit bounds what an error that never goes away can cost.
  return { kind: 'retry', customId, error: new ServerError({ message, details }) };
}

/**
 * Items submitted in a batch that ended but that neither of its files mentions: a provider that
 * drops the unrun part of an expired or cancelled batch instead of listing it. All worth sending again.
 */
export function missingOutcomes(submitted: Iterable<string>, seen: ReadonlySet<string>, status: BatchStatus): BatchLineOutcome[] {
  const why = status === 'expired' ? 'the batch expired before it ran' : status === 'cancelled' ? 'the batch was cancelled before it ran' : `the batch ended (${status}) without an answer for it`;
  const out: BatchLineOutcome[] = [];
  for (const customId of submitted) {
    if (seen.has(customId)) continue;
    const code = NOT_RUN_CODES_BY_STATUS[status] ?? 'missing_from_output';
    out.push({ kind: 'retry', customId, error: new ServerError({ message: `not in the batch's files: ${why}`, details: { message: why, type: null, param: null, code } }) });
  }
  return out;
}

const NOT_RUN_CODES_BY_STATUS: Partial<Record<BatchStatus, string>> = { expired: 'batch_expired', cancelled: 'batch_cancelled' };

/**
 * A batch whose file was refused as a whole (`failed`): `later` when a quota said no (enqueued
 * tokens, batch creation rate): the same items may go again once other batches finish; `refused`
 * when the file itself was found wrong, so its items need another way (online) or a fix.
 */
export function failedBatchVerdict(batch: Pick<ProviderBatch, 'errors'>): { verdict: 'later' | 'refused'; message: string } {
  const errors = batch.errors?.data ?? [];
  const message = errors.length === 0 ? 'the batch failed without errors listed' : errors.slice(0, 3).map((e) => `${e.code ?? 'error'}${e.line ? ` (line ${e.line})` : ''}: ${e.message ?? ''}`).join('; ');
  const quota = errors.length > 0 && errors.every((e) => e.code === 'token_limit_exceeded' || e.code === 'rate_limit_exceeded');
  return { verdict: quota ? 'later' : 'refused', message };
}

export function isNotRunCode(code: string | null | undefined): boolean {
  return code != null && NOT_RUN_CODES.has(code);
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text);
}
