/**
 * The one place that maps the outcome of an API call to a typed error, and a typed error to what the
 * worker does next. Pure: no I/O, no clock (Retry-After dates are read against Date.now() by default).
 */
import {
  ApiCallError,
  type ApiErrorDetails,
  AuthenticationError,
  CapacityUnavailableError,
  InvalidRequestError,
  NetworkError,
  RateLimitedError,
  RequestTimeoutError,
  ResponseFailedError,
  ServerError,
} from './errors.js';
import { redactSecrets, truncate } from './redact.js';
import { parseRetryAfter, saysNothingLeft } from './retry-after.js';
import type { ResponseHeaders } from './response-headers.js';

/** How much of the API's own message (or of a non-JSON body) is kept in an error message. */
const MAX_API_MESSAGE_CHARS = 500;

export interface ClassifyContext {
  /** Values that must never appear in a message: the API key. */
  secrets?: readonly string[];
  /** Our request timeout, to say how long we waited. */
  timeoutMs?: number;
  /** Clock for Retry-After dates (tests). */
  now?: number;
}

function str(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/**
 * Reads `{"error":{message,type,param,code}}` (the spec's error body), tolerating the variants seen in
 * the wild: `{"error":"text"}`, a top-level `{message}`, or `{"detail": ...}` from FastAPI-based servers.
 */
export function readErrorDetails(bodyText: string): ApiErrorDetails | null {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const record = body as Record<string, unknown>;
  const inner = record['error'];
  if (typeof inner === 'string') return { message: inner, type: null, param: null, code: null };
  const source = typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : record;
  const detail = record['detail'];
  const message =
    str(source['message']) ?? (typeof detail === 'string' ? detail : detail !== undefined ? JSON.stringify(detail) : null);
  const details = { message, type: str(source['type']), param: str(source['param']), code: str(source['code']) };
  return Object.values(details).some((v) => v !== null) ? details : null;
}

function clean(text: string, secrets: readonly string[]): string {
  return truncate(redactSecrets(text.replace(/\s+/g, ' ').trim(), secrets), MAX_API_MESSAGE_CHARS);
}

/** Redacts every field of the API's details: the error object is logged and stored as a whole. */
function cleanDetails(details: ApiErrorDetails | null, secrets: readonly string[]): ApiErrorDetails | null {
  if (details === null) return null;
  const c = (v: string | null): string | null => (v === null ? null : clean(v, secrets));
  return { message: c(details.message), type: c(details.type), param: c(details.param), code: c(details.code) };
}

/** "HTTP 400 invalid_request_error/model_not_found, param model: The model ... does not exist". */
function describeHttp(status: number, details: ApiErrorDetails | null, bodyText: string, secrets: readonly string[]): string {
  const tags = [details?.type, details?.code].filter((t): t is string => !!t).join('/');
  const param = details?.param ? `, param ${details.param}` : '';
  const head = `HTTP ${status}${tags ? ` ${tags}` : ''}${param}`;
  const said = details?.message ?? clean(bodyText, secrets);
  return said ? `${head}: ${said}` : `${head} (empty body)`;
}

/** A non-2xx response. Non-JSON bodies (proxy HTML pages) are quoted, redacted and truncated. */
export function errorFromResponse(status: number, headers: ResponseHeaders, bodyText: string, ctx: ClassifyContext = {}): ApiCallError {
  const secrets = ctx.secrets ?? [];
  const details = cleanDetails(readErrorDetails(bodyText), secrets);
  const described = describeHttp(status, details, bodyText, secrets);
  const retryAfterMs = parseRetryAfter(headers, ctx.now);
  const init = { status, details, retryAfterMs };

  if (status === 401 || status === 403) {
    return new AuthenticationError({ ...init, message: `the API key was refused, so the run stops (${described})` });
  }
  if (status === 429 && saysResourceUnavailable(details)) return new CapacityUnavailableError({ ...init, message: `no capacity for this tier now (${described})` });
  if (status === 429) return Object.assign(new RateLimitedError({ ...init, message: `rate limited (${described})` }), { nothingLeft: saysNothingLeft(headers) });
  if (status === 408 || status === 409 || status >= 500) return new ServerError({ ...init, message: described });
  if (status >= 300 && status < 400) {
    // Only reached by callers that do not refuse redirects themselves.
    const location = headers.get('location');
    const where = location ? ` to ${clean(location, secrets)}` : '';
    return new InvalidRequestError({ ...init, message: `${described}; redirected${where}, check the base URL` });
  }
  return new InvalidRequestError({ ...init, message: described });
}

/**
 * A 429 that says the resource is unavailable (OpenAI's flex tier when it has no capacity: code
 * `resource_unavailable`, "Resource Unavailable") rather than that the key is over its limits.
 */
export function saysResourceUnavailable(details: ApiErrorDetails | null): boolean {
  if (!details) return false;
  return [details.code, details.type, details.message].some((t) => t !== null && /resource[ _-]?unavailable/i.test(t));
}

/** Error codes (on the error or anywhere in its `cause` chain) and their messages. */
function causeChain(err: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.message === 'string' && e.message) messages.push(e.message);
    // Happy-eyeballs connects fail with an AggregateError holding one error per address.
    if (Array.isArray(e.errors)) {
      for (const inner of e.errors as unknown[]) {
        const c = (inner as { code?: unknown } | null)?.code;
        if (typeof c === 'string') codes.push(c);
      }
    }
    current = e.cause;
  }
  return { codes, messages };
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/**
 * An exception thrown while sending the request or reading the answer. `timedOut` is true when our own
 * timeout fired. A caller's abort must not reach this function: the client rethrows it untouched.
 */
export function errorFromException(err: unknown, timedOut: boolean, ctx: ClassifyContext = {}): ApiCallError {
  const secrets = ctx.secrets ?? [];
  if (timedOut) {
    const after = ctx.timeoutMs !== undefined ? ` after ${ctx.timeoutMs} ms` : '';
    return new RequestTimeoutError({ message: `no complete response${after} (request timeout)`, cause: err });
  }
  if (err instanceof ApiCallError) return err;

  if (err instanceof SyntaxError) {
    // JSON.parse of a 2xx body. An early end means the connection dropped mid-body; anything else is a
    // body that is not JSON at all (a proxy page). Both may go away on another attempt.
    const truncated = /end of (JSON )?input|unterminated/i.test(err.message);
    const what = truncated ? 'truncated response body' : 'response body is not valid JSON';
    return new NetworkError({ message: `${what} (${clean(err.message, secrets)})`, cause: err });
  }

  const { codes, messages } = causeChain(err);
  const detail = clean([...new Set([...codes, ...messages])].join(': '), secrets);
  const name = (err as { name?: unknown } | null)?.name;
  if (codes.some((c) => TIMEOUT_CODES.has(c)) || name === 'TimeoutError') {
    return new RequestTimeoutError({ message: `request timed out (${detail})`, cause: err });
  }
  if (messages.includes('unexpected redirect')) {
    // The client refuses redirects (see client.ts); a redirected POST may silently become a GET.
    return new InvalidRequestError({ message: 'the server answered with a redirect; check the base URL', cause: err });
  }
  if (codes.includes('UND_ERR_SOCKET') || codes.includes('UND_ERR_RES_CONTENT_LENGTH_MISMATCH') || messages.includes('terminated')) {
    // undici's ways of saying the socket closed before the whole answer arrived.
    return new NetworkError({ message: `connection closed while reading the response body (${detail})`, cause: err });
  }
  return new NetworkError({ message: `request failed: ${detail || 'unknown error'}`, cause: err });
}

/** HTTP 200 carrying `status: "failed"`; `error` comes from parseResponse. */
export function errorFromFailedResponse(error: { code: string; message: string } | null, ctx: ClassifyContext = {}): ApiCallError {
  const secrets = ctx.secrets ?? [];
  const code = error?.code ? `${clean(error.code, secrets)}: ` : '';
  const message = error?.message ? clean(error.message, secrets) : 'no error details';
  return new ResponseFailedError({
    status: 200,
    message: `response failed: ${code}${message}`,
    details: error ? cleanDetails({ message: error.message, code: error.code, type: null, param: null }, secrets) : null,
  });
}

export type Decision = 'retry' | 'give-up' | 'stop-run';

/** What to do after attempt number `attempt` (1-based) failed with `err`. */
export function decide(err: ApiCallError, attempt: number, maxAttempts: number): Decision {
  if (err.stopsRun) return 'stop-run';
  if (!err.retryable || attempt >= maxAttempts) return 'give-up';
  return 'retry';
}
