/**
 * Typed failures of one API call. Each class fixes the policy of its kind of failure (retry or not,
 * stop the whole run or not) so that callers branch on the class or its flags, never on message text.
 * Which class a given HTTP status or exception becomes is decided in ./classify.ts only.
 */
import type { ErrorType, LineError } from '../core/output-line.js';

/** The API's own error details, from a `{"error":{message,type,param,code}}` body, when there was one. */
export interface ApiErrorDetails {
  message: string | null;
  type: string | null;
  param: string | null;
  code: string | null;
}

export interface ApiCallErrorInit {
  /** Already redacted and truncated (see ./redact.ts). */
  message: string;
  status?: number | null;
  retryAfterMs?: number | null;
  details?: ApiErrorDetails | null;
  cause?: unknown;
}

export abstract class ApiCallError extends Error {
  abstract readonly type: ErrorType;
  /** Whether another attempt may succeed. */
  abstract readonly retryable: boolean;
  /** Whether no other item can succeed either (bad key), so the whole run should stop. */
  readonly stopsRun: boolean = false;
  /** HTTP status of the response, or null when there was none (timeout, network). */
  readonly status: number | null;
  /** How long the server asked us to wait (Retry-After and friends), in ms. */
  readonly retryAfterMs: number | null;
  readonly details: ApiErrorDetails | null;
  /**
   * Duration of the failed call, filled in by the client (classification has no clock). Mutable on
   * purpose: the error is built before the caller knows it will be thrown.
   */
  latencyMs: number | null = null;

  constructor(init: ApiCallErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.details = init.details ?? null;
    this.name = new.target.name;
  }

  toLineError(): LineError {
    return { type: this.type, message: this.message, status: this.status };
  }
}

/** 401/403: the key was refused. Retrying or going on with other items cannot help. */
export class AuthenticationError extends ApiCallError {
  readonly type = 'auth' as const;
  readonly retryable = false;
  override readonly stopsRun = true;
}

/** 400/404/422 and other 4xx (except 408/409/429), plus unfollowed redirects: the request itself is wrong. */
export class InvalidRequestError extends ApiCallError {
  readonly type = 'invalid_request' as const;
  readonly retryable = false;
}

/** 429. */
export class RateLimitedError extends ApiCallError {
  readonly type = 'rate_limited' as const;
  readonly retryable = true;
  /** The answer said the key has no requests or tokens left (x-ratelimit-remaining-*: 0). */
  nothingLeft = false;
}

/**
 * A 429 saying the provider has no capacity for the request's tier right now ("resource
 * unavailable"), as flex answers when it is busy. It is not about the key's limits: a flex call
 * waits and asks again, then falls back to the default tier (./budgeted-call.ts). These calls are
 * not billed. A call at another tier that gets it is treated like any other 429.
 */
export class CapacityUnavailableError extends RateLimitedError {}

/** 5xx, and 408/409 which openai-node also retries (server-side timeout, lock conflict). */
export class ServerError extends ApiCallError {
  readonly type = 'server_error' as const;
  readonly retryable = true;
}

/** No complete answer within our own request timeout (or undici's headers/body timeouts). */
export class RequestTimeoutError extends ApiCallError {
  readonly type = 'timeout' as const;
  readonly retryable = true;
}

/** Connection refused/reset/closed, DNS failure, or a truncated or unparsable body. */
export class NetworkError extends ApiCallError {
  readonly type = 'network' as const;
  readonly retryable = true;
}

/**
 * HTTP 200 with `status: "failed"`. Retryable: the request was accepted (so it is not malformed) and the
 * failure happened inside the provider (model error, overload), which the spec's error table files under
 * 500 `server_error`/`model_error`; a later attempt usually succeeds. The attempt limit bounds the cost
 * when it does not.
 */
export class ResponseFailedError extends ApiCallError {
  readonly type = 'response_failed' as const;
  readonly retryable = true;
}
