import type { SourceRef } from './item.js';

/**
 * Token usage exactly as the OpenResponses API returned it (`ResponseResource.usage`). Extra keys a
 * router adds (for example a reported cost) are kept as they came.
 */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  input_tokens_details?: { cached_tokens: number };
  output_tokens_details?: { reasoning_tokens: number };
  [extra: string]: unknown;
}

export type LineStatus = 'completed' | 'incomplete' | 'failed' | 'rejected';

/** Why an item did not complete. `type` is one of the `ErrorType`s below. */
export interface LineError {
  type: ErrorType;
  message: string;
  /** HTTP status of the last response, when there was one. */
  status: number | null;
}

export type ErrorType =
  | 'rejected_input' // bad input: malformed line, missing column, not an image, unreadable file
  | 'invalid_request' // 400/404/422: the API refused the request; not retried
  | 'auth' // 401/403: the key was refused; the run stops
  | 'rate_limited' // 429 on the last attempt
  | 'server_error' // 5xx on the last attempt
  | 'timeout' // no answer within the request timeout
  | 'network' // connection refused/reset, truncated or unreadable body
  | 'response_failed' // HTTP 200 with status "failed"
  | 'incomplete' // status "incomplete": partial output kept, `message` holds the reason
  | 'internal' // respool itself failed on this item (for example the worker died too often)
  | 'cancelled'; // `respool cancel` ended the run before this item was sent

/**
 * One line of the results file: the contract between respool and whatever reads its output.
 * docs/output-line.md documents every field; keep the two in step.
 */
export interface OutputLine {
  custom_id: string;
  status: LineStatus;
  /** Model as the API reported it (or as requested, when there was no response). */
  model: string | null;
  /** Every `output_text` part of every assistant `message` item, in order, joined. */
  output_text: string | null;
  /** The JSON-parsed output text, present only when a json_schema text format was requested. */
  parsed?: unknown;
  /** Refusal text, when the model refused (`refusal` content parts). */
  refusal?: string;
  usage: Usage | null;
  response_id: string | null;
  /** API calls made for this item that counted as attempts (0 for rejected input). */
  attempts: number;
  /** Calls answered 429 (rate limited). They do not count as attempts; present only when > 0. */
  rate_limited?: number;
  /** Duration of the last API call. */
  latency_ms: number | null;
  error?: LineError;
  source: SourceRef;
  run: string;
  finished_at: string;
}
