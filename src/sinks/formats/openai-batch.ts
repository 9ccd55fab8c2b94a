/**
 * The provider batch output shape (OpenAI Batch API): one line per request with `id`, `custom_id`,
 * `response: {status_code, request_id, body}` and `error`. Pure; the collector uses it when a run
 * has `output_format: openai-batch` (docs/labeling.md#openai-batch-files).
 *
 * `body` is the API's own response body whenever the worker kept it (`line.http`). When it did not
 * (the line came from a worker that did not keep it), a minimal `ResponseResource` is rebuilt from
 * the line's own fields, and an error body from its error.
 */
import type { HttpRecord, OutputLine } from '../../core/output-line.js';

export interface BatchOutputLine {
  id: string;
  custom_id: string;
  response: HttpRecord | null;
  error: { code: string; message: string } | null;
}

/** `jobId` is respool's job id (`i` + 32 hex digits): the same item always gets the same `id`. */
export function toBatchLine(line: OutputLine, jobId: string): BatchOutputLine {
  const id = `batch_req_${jobId.replace(/^i/, '')}`;
  const lineError = line.error ? { code: line.error.type, message: line.error.message } : null;
  const response = line.http ?? rebuiltResponse(line);
  // A batch reader treats an HTTP answer with no `error` as the request's result. An answer respool
  // refused (invalid_output) keeps its body but also says why; answers the API itself failed say so
  // in their body, as provider error files do.
  const error = response === null || line.status === 'invalid_output' ? lineError : null;
  return { id, custom_id: line.custom_id, response, error };
}

function rebuiltResponse(line: OutputLine): HttpRecord | null {
  if (line.status === 'completed' || line.status === 'incomplete' || line.status === 'invalid_output') {
    const content: unknown[] = [];
    if (line.output_text !== null) content.push({ type: 'output_text', text: line.output_text, annotations: [] });
    if (line.refusal !== undefined) content.push({ type: 'refusal', refusal: line.refusal });
    const incomplete = line.status === 'incomplete';
    return {
      status_code: 200,
      request_id: null,
      body: {
        id: line.response_id,
        object: 'response',
        status: incomplete ? 'incomplete' : 'completed',
        incomplete_details: incomplete ? { reason: line.error?.message ?? 'response incomplete' } : null,
        model: line.model,
        output: [{ type: 'message', role: 'assistant', status: incomplete ? 'incomplete' : 'completed', content }],
        usage: line.usage,
        error: null,
      },
    };
  }
  if (line.status === 'failed' && line.error?.status != null && line.error.status !== 200) {
    return {
      status_code: line.error.status,
      request_id: null,
      body: { error: { message: line.error.message, type: line.error.type, param: null, code: null } },
    };
  }
  // No HTTP answer to show: rejected input, timeouts, network errors, respool's own failures, and
  // 200 answers with status "failed" whose body was not kept.
  return null;
}

/** The text the collector writes for a line, in the run's output format. */
export function formatLine(format: 'respool' | 'openai-batch', line: OutputLine, jobId: string, text?: string): string {
  if (format === 'openai-batch') return JSON.stringify(toBatchLine(line, jobId));
  if (line.http === undefined) return text ?? JSON.stringify(line);
  // Kept for a batch file only; a respool line never carries it.
  const { http: _http, ...rest } = line;
  return JSON.stringify(rest);
}
