/**
 * The only module here that does I/O: one `POST {base}/responses` per call, on Node's global fetch.
 *
 * Connection reuse: Node 20's fetch runs on undici's global dispatcher, which keeps connections alive
 * and pools them per origin by default. A tuned undici Agent would need the `undici` package as a
 * dependency, so the global dispatcher is used as it is.
 *
 * Redirects are refused (`redirect: 'error'`): fetch turns a POST answered with 301/302 into a GET
 * without a body, which would fail in confusing ways; a redirect becomes an InvalidRequestError that
 * says to fix the base URL. ('manual' would keep the Location header, but makes undici clone and tee
 * every request body, which costs more CPU per call than the rest of the call together.)
 */
import { errorFromException, errorFromResponse } from './classify.js';
import { ApiCallError } from './errors.js';

export interface OpenResponsesClientOptions {
  /** For example `https://api.openai.com/v1`; `/responses` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; no header at all when undefined or blank. */
  apiKey: string | undefined;
  /** Whole-call limit: connecting, sending, waiting and reading the body. */
  timeoutMs: number;
  userAgent?: string;
}

export interface CreateResponseOptions {
  /** Caller's cancellation (worker shutdown). Its abort error is rethrown untouched. */
  signal?: AbortSignal;
  /** Sent as `Idempotency-Key`, so that a server that supports it can drop a retried duplicate. */
  idempotencyKey?: string;
}

export interface CreateResponseResult {
  json: unknown;
  status: number;
  headers: Headers;
  /** From sending the request to having read the whole body. */
  latencyMs: number;
}

const DEFAULT_USER_AGENT = 'respool';
const MAX_TIMER_MS = 2_147_483_647;

/** Characters a header value can carry (RFC 9110 field-value, without CR/LF/NUL). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export class OpenResponsesClient {
  readonly url: string;
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** Private (#) so that it is neither enumerable nor reachable by JSON.stringify or util.inspect. */
  readonly #apiKey: string | undefined;

  constructor(opts: OpenResponsesClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.baseUrl);
    } catch {
      throw new Error(`invalid base URL: ${JSON.stringify(opts.baseUrl)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`base URL must be http(s): ${parsed.protocol}`);
    // fetch refuses URLs with credentials; say so here, without echoing them.
    if (parsed.username || parsed.password) throw new Error('base URL must not contain credentials; use the API key setting');
    if (!(opts.timeoutMs > 0)) throw new Error(`timeoutMs must be positive, got ${opts.timeoutMs}`);

    // Keys read from files often end with a newline; a key with other control characters would make
    // fetch throw an error that quotes the header value, i.e. the key. Refuse it here, without quoting it.
    const key = opts.apiKey?.trim();
    if (key && !HEADER_VALUE.test(key)) throw new Error('the API key contains characters that cannot be sent in an HTTP header');

    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/responses`;
    // setTimeout fires at once for delays above 2^31-1 ms, so larger values mean "about 24 days".
    this.timeoutMs = Math.min(opts.timeoutMs, MAX_TIMER_MS);
    this.userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    this.#apiKey = key ? key : undefined;
  }

  get hasApiKey(): boolean {
    return this.#apiKey !== undefined;
  }

  async createResponse(body: Record<string, unknown>, opts: CreateResponseOptions = {}): Promise<CreateResponseResult> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': this.userAgent,
    };
    if (this.#apiKey !== undefined) headers['Authorization'] = `Bearer ${this.#apiKey}`;
    if (opts.idempotencyKey !== undefined) headers['Idempotency-Key'] = opts.idempotencyKey;
    // Outside the try: a body that cannot be serialised is a bug, not an API failure.
    const payload = JSON.stringify(body);

    const ctx = { secrets: this.#apiKey === undefined ? [] : [this.#apiKey], timeoutMs: this.timeoutMs };
    // One controller fed by both the timer and the caller's signal. (AbortSignal.any would do the same,
    // but on Node 20 it keeps every combined signal alive until GC and costs several times more CPU
    // per call, which shows at thousands of calls per second.)
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`no response within ${this.timeoutMs} ms`, 'TimeoutError'));
    }, this.timeoutMs);
    const callerSignal = opts.signal;
    const onCallerAbort = () => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const signal = controller.signal;
    const started = performance.now();
    try {
      const res = await fetch(this.url, { method: 'POST', headers, body: payload, signal, redirect: 'error' });
      const text = await res.text();
      const latencyMs = Math.round(performance.now() - started);
      if (res.status < 200 || res.status > 299) throw withLatency(errorFromResponse(res.status, res.headers, text, ctx), latencyMs);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw withLatency(errorFromException(err, false, ctx), latencyMs);
      }
      return { json, status: res.status, headers: res.headers, latencyMs };
    } catch (err) {
      if (err instanceof ApiCallError) throw err;
      // Whichever signal fired first decides: the combined signal carries the first reason.
      if (callerSignal?.aborted && !timedOut) throw err;
      const classified = errorFromException(err, timedOut, ctx);
      throw withLatency(classified, Math.round(performance.now() - started));
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /** Safe to log: never includes the key. */
  toJSON(): Record<string, unknown> {
    return { url: this.url, timeoutMs: this.timeoutMs, userAgent: this.userAgent, hasApiKey: this.hasApiKey };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `OpenResponsesClient ${JSON.stringify(this.toJSON())}`;
  }
}

function withLatency(err: ApiCallError, latencyMs: number): ApiCallError {
  err.latencyMs = latencyMs;
  return err;
}
