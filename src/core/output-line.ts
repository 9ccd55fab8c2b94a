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

export type LineStatus = 'completed' | 'incomplete' | 'failed' | 'rejected' | 'invalid_output' | 'skipped'; // skipped: the run's max_cost was reached

/** What a line's call cost, in `currency` (USD); docs/output-line.md and docs/cost.md. */
export interface LineCost {
  /** Uncached input tokens at the input rate; null when the API reported the cost itself. */
  input: number | null;
  /** Cached input tokens at the cached-input rate. */
  cached_input: number | null;
  /** Output tokens (reasoning tokens included) at the output rate. */
  output: number | null;
  total: number;
  currency: 'USD';
  /** `price_table` (computed from usage) or `api` (the API reported it in `usage.cost`). */
  source: 'price_table' | 'api';
}

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
  | 'invalid_output' // answers that did not match the run's schema, after every re-ask (docs/labeling.md)
  | 'internal' // respool itself failed on this item (for example the worker died too often)
  | 'max_cost' // not sent: the run's max_cost would have been passed (status skipped)
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
  /** Answers that did not match the run's schema, over every sample; present only when > 0. */
  invalid_answers?: number;
  /** API calls whose answers made this line (samples and re-asks), when more than one. */
  calls?: number;
  /** The vote over several sampled answers; present only when the run has `samples` > 1. */
  samples?: SamplesRecord;
  /**
   * The HTTP answer the line reports, kept only when the run writes `output_format: openai-batch`;
   * the collector turns it into the batch line's `response` and never writes it as it is.
   */
  http?: HttpRecord;
  source: SourceRef;
  run: string;
  finished_at: string;
  /** Cost of the line's usage; null when it has no usage or its model has no price. */
  cost?: LineCost | null;
  /** The run's `request.metadata`, when it has one (what `report --by metadata.<key>` groups by). */
  metadata?: Record<string, string>;
  /**
   * The custom_id of the item whose identical request was called: this line copies its outcome and
   * costs nothing (docs/output-line.md#duplicates). Absent on lines that made their own call.
   */
  duplicate_of?: string;
  /**
   * The tier that served the answer, as the response's `service_tier` said (`default`, `flex`,
   * `priority`, ...), or `batch` for a line from a provider batch. Absent when the API said none.
   */
  service_tier?: string;
}

/** docs/labeling.md#samples. */
export interface SamplesRecord {
  /** Samples asked for. */
  n: number;
  /** Samples whose answer matched the schema (after re-asks); only these vote. */
  valid: number;
  /** Each sample's answer in order: the label, the list of labels, or the answer object; null when invalid. */
  answers: unknown[];
  majority: unknown;
  /** Share of valid samples that gave the majority answer, 0 to 1, rounded to 3 decimals. */
  agreement: number;
}

/** One HTTP answer as a provider batch output line holds it (`response`). */
export interface HttpRecord {
  status_code: number;
  /** The answer's `x-request-id` header, when it had one. */
  request_id: string | null;
  /** The response body exactly as the API sent it (a `ResponseResource`, or an `{"error": ...}` body). */
  body: unknown;
}
