/**
 * The HTTP answer a line reports, in the shape of a provider batch output line's `response`, kept
 * only for runs written as `output_format: openai-batch` (docs/labeling.md#openai-batch-files).
 */
import type { HttpRecord } from '../../core/output-line.js';
import type { ApiCallError } from '../errors.js';
import type { ResponseHeaders } from '../response-headers.js';

export function httpRecord(status: number, headers: ResponseHeaders, body: unknown): HttpRecord {
  return { status_code: status, request_id: headers.get('x-request-id'), body };
}

/**
 * An API error answer: the client keeps the error's fields, not its body, so the body is rebuilt in
 * the spec's error shape from them. Null when there was no HTTP answer (timeout, network).
 */
export function httpRecordOfError(err: ApiCallError): HttpRecord | null {
  if (err.status === null) return null;
  const d = err.details;
  return {
    status_code: err.status,
    request_id: null,
    body: { error: { message: d?.message ?? err.message, type: d?.type ?? null, param: d?.param ?? null, code: d?.code ?? null } },
  };
}
