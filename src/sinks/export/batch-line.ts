/**
 * Reads a provider batch output line (`{id, custom_id, response: {status_code, request_id, body},
 * error}`: respool's `output_format: openai-batch`, or a provider's own output file) into what
 * `export` and `report` need of it. Pure.
 *
 * The status is the response body's (`completed`, `incomplete`, ...) for an HTTP 200 answer with no
 * batch `error`; else the respool status the batch error's code stands for (`invalid_output`,
 * `rejected` for `rejected_input`, `skipped` for `max_cost`), else `failed`. The model and the
 * usage are the body's whatever the status: an answer respool refused (invalid_output) or one that
 * failed after it was generated was still billed.
 */
type Obj = Record<string, unknown>;

export interface BatchLineView {
  status: string;
  model: string | null;
  usage: unknown;
  body: Obj | null;
  /** Why the line did not complete: the batch error's message, the body's error, or the HTTP status. */
  errorMessage: string | null;
  /** A short type for grouping: the batch error's code, the body error's type or code, `http_<status>`, `incomplete`. */
  errorType: string | null;
  /** When the answer was made (`completed_at`, else `created_at`, Unix seconds), as an ISO time. */
  finishedAt: string | null;
}

/** The error codes respool writes on batch lines of items that got no answer, or a refused one. */
const STATUS_OF_ERROR_CODE: Record<string, string> = { invalid_output: 'invalid_output', rejected_input: 'rejected', max_cost: 'skipped' };

/** A results line in the provider batch shape, not respool's (which always has `status`). */
export function isBatchLine(line: Obj): boolean {
  return 'response' in line && !('status' in line);
}

export function readBatchLine(line: Obj): BatchLineView {
  const response = isObj(line.response) ? line.response : null;
  const body = response && isObj(response.body) ? response.body : null;
  const batchError = isObj(line.error) ? line.error : null;
  const bodyError = body && isObj(body.error) ? body.error : null;
  const model = body && typeof body.model === 'string' && body.model.length > 0 ? body.model : null;
  const usage = body && isObj(body.usage) ? body.usage : null;
  const finishedAt = unixTime(body?.completed_at) ?? unixTime(body?.created_at);
  if (!body || response?.status_code !== 200 || batchError) {
    const status = STATUS_OF_ERROR_CODE[String(batchError?.code)] ?? 'failed';
    const message = str(batchError?.message) ?? str(bodyError?.message) ?? `HTTP ${String(response?.status_code)}`;
    const type = str(batchError?.code) ?? str(bodyError?.type) ?? str(bodyError?.code) ?? (typeof response?.status_code === 'number' ? `http_${response.status_code}` : 'failed');
    return { status, model, usage, body, errorMessage: message, errorType: type, finishedAt };
  }
  const status = str(body.status) ?? 'completed';
  const incomplete = status === 'incomplete' ? 'incomplete' : null;
  const failed = status === 'failed' ? (str(bodyError?.type) ?? str(bodyError?.code) ?? 'failed') : null;
  return { status, model, usage, body, errorMessage: status === 'failed' ? (str(bodyError?.message) ?? null) : null, errorType: incomplete ?? failed, finishedAt };
}

function unixTime(v: unknown): string | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 1e11 ? new Date(v * 1000).toISOString() : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
