/**
 * The only module here that does I/O: one `POST {base}/responses` per call, on undici's `request`.
 *
 * Why not the global fetch: it wraps every call in WHATWG streams, Headers and transferable abort
 * signals, which costs three to four times the CPU of `undici.request` per call (measured: about
 * 400 µs against 110 µs on a 2-core machine). At thousands of calls per second that is the
 * difference between keeping up with the API and being the bottleneck.
 *
 * One keep-alive Agent serves every client of the process; undici pools connections per origin.
 * Its own header and body timeouts are off: the whole-call timeout below covers connecting, sending,
 * waiting and reading, however long a model takes.
 *
 * Redirects are not followed (undici's default for `request`): a POST answered with 3xx becomes an
 * InvalidRequestError that says to fix the base URL, instead of a silent GET without a body.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Agent, Dispatcher } from 'undici';
import { HTTP_DEFAULTS } from '../config/defaults.js';
import { errorFromException, errorFromResponse } from './classify.js';
import { ApiCallError } from './errors.js';
import { HeaderLookup, type ResponseHeaders } from './response-headers.js';

export interface OpenResponsesClientOptions {
  /** For example `https://api.openai.com/v1`; `/responses` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; no header at all when undefined or blank. */
  apiKey: string | undefined;
  /** Whole-call limit: connecting, sending, waiting and reading the body. */
  timeoutMs: number;
  /** @default HTTP_DEFAULTS.userAgent */
  userAgent?: string;
}

export interface CreateResponseOptions {
  /** Caller's cancellation (worker shutdown). Its abort error is rethrown untouched. */
  signal?: AbortSignal;
  /** Sent as `Idempotency-Key`, so that a server that supports it can drop a retried duplicate. */
  idempotencyKey?: string;
  /**
   * This call's whole-call limit instead of the client's (a flex item sent at the default tier).
   * @default the client's `timeoutMs`
   */
  timeoutMs?: number;
}

export interface CreateResponseResult {
  json: unknown;
  status: number;
  headers: ResponseHeaders;
  /** From sending the request to having read the whole body. */
  latencyMs: number;
}

type Send = (opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
const require = createRequire(import.meta.url);

// Loaded with the first call: commands that make no call never pay for it. Only undici's Agent and its
// `request` are loaded, not its index, which also loads fetch, WebSocket, the cache and the mock agents:
// about 30 ms instead of 100 ms, spent just when a run's first calls are waiting to go out. Should a
// future undici move those files, the whole package is loaded instead.
let undici: Promise<Send> | null = null;
function http(): Promise<Send> {
  undici ??= loadUndici();
  return undici;
}
const AGENT_OPTIONS = { keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 };
const UNDICI_PARTS = { agent: 'undici/lib/dispatcher/agent.js', request: 'undici/lib/api/api-request.js' };

/** Exported for its test, which also takes the fallback by naming parts that do not exist. */
export async function loadUndici(parts = UNDICI_PARTS): Promise<Send> {
  try {
    const AgentClass = require(parts.agent) as typeof Agent;
    const request = require(parts.request) as (this: Dispatcher, ...args: Parameters<Send>) => ReturnType<Send>;
    if (typeof AgentClass !== 'function' || typeof request !== 'function') throw new Error('unexpected undici layout');
    const agent = new AgentClass(AGENT_OPTIONS);
    return (opts) => request.call(agent, opts);
  } catch {
    const { Agent: AgentClass } = await import('undici');
    const agent = new AgentClass(AGENT_OPTIONS);
    return (opts) => agent.request(opts);
  }
}

export const MAX_TIMER_MS = 2_147_483_647;

/** Characters a header value can carry (RFC 9110 field-value, without CR/LF/NUL). */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The base URL and API key of a client of the API (`/responses`, `/files`, `/batches`), checked
 * without ever quoting the key: an http(s) URL without credentials (they would be sent as Basic auth
 * next to the key), and a key that can go in a header. Keys read from files often end with a newline,
 * so the key is trimmed; a key with other control characters would make the HTTP client throw an
 * error that quotes the header value, i.e. the key.
 */
export function checkedEndpoint(baseUrl: string, apiKey: string | undefined): { baseUrl: string; origin: string; apiKey: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new Error(`invalid base URL: ${JSON.stringify(baseUrl)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`base URL must be http(s): ${parsed.protocol}`);
  if (parsed.username || parsed.password) throw new Error('base URL must not contain credentials; use the API key setting');
  const key = apiKey?.trim();
  if (key && !HEADER_VALUE.test(key)) throw new Error('the API key contains characters that cannot be sent in an HTTP header');
  return { baseUrl: baseUrl.replace(/\/+$/, ''), origin: parsed.origin, apiKey: key ? key : undefined };
}

export class OpenResponsesClient {
  readonly url: string;
  private readonly origin: string;
  private readonly path: string;
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** Private (#) so that it is neither enumerable nor reachable by JSON.stringify or util.inspect. */
  readonly #apiKey: string | undefined;

  constructor(opts: OpenResponsesClientOptions) {
    const endpoint = checkedEndpoint(opts.baseUrl, opts.apiKey);
    if (!(opts.timeoutMs > 0)) throw new Error(`timeoutMs must be positive, got ${opts.timeoutMs}`);

    this.url = `${endpoint.baseUrl}/responses`;
    const target = new URL(this.url);
    this.origin = target.origin;
    this.path = `${target.pathname}${target.search}`;
    // setTimeout fires at once for delays above 2^31-1 ms, so larger values mean "about 24 days".
    this.timeoutMs = Math.min(opts.timeoutMs, MAX_TIMER_MS);
    this.userAgent = opts.userAgent ?? HTTP_DEFAULTS.userAgent;
    this.#apiKey = endpoint.apiKey;
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
    headers['Content-Length'] = String(Buffer.byteLength(payload));

    const timeoutMs = opts.timeoutMs === undefined ? this.timeoutMs : Math.min(opts.timeoutMs, MAX_TIMER_MS);
    const ctx = { secrets: this.#apiKey === undefined ? [] : [this.#apiKey], timeoutMs };
    // One abort fed by both the timer and the caller's signal.
    const abort = new CallAbort();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort(new DOMException(`no response within ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    const callerSignal = opts.signal;
    const onCallerAbort = () => abort.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const started = performance.now();
    try {
      const send = await http();
      const res = await send({ origin: this.origin, path: this.path, method: 'POST', headers, body: payload, signal: abort });
      // Read every body, error or not, so that the connection goes back to the pool.
      const text = await res.body.text();
      const latencyMs = Math.round(performance.now() - started);
      const resHeaders = new HeaderLookup(res.headers);
      const status = res.statusCode;
      if (status < 200 || status > 299) throw withLatency(errorFromResponse(status, resHeaders, text, ctx), latencyMs);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw withLatency(errorFromException(err, false, ctx), latencyMs);
      }
      return { json, status, headers: resHeaders, latencyMs };
    } catch (err) {
      if (err instanceof ApiCallError) throw err;
      // Whichever signal fired first decides: the abort carries the first reason.
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

/**
 * What undici accepts as a request's signal: an EventEmitter with `aborted` and `reason`, which it
 * rejects the call with. An AbortController per call would do the same at several times the CPU (on
 * Node 20 each one builds an EventTarget and a transferable AbortSignal; AbortSignal.any is dearer
 * still and keeps every combined signal alive until GC), which shows at thousands of calls per second.
 */
class CallAbort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

function withLatency(err: ApiCallError, latencyMs: number): ApiCallError {
  err.latencyMs = latencyMs;
  return err;
}
