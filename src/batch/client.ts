/**
 * HTTP client of a provider's Batch API (OpenAI's `/files` and `/batches`, under the same base URL as
 * `/responses`): upload an input file, create, get, list and cancel batches, stream a file's content
 * line by line, delete a file. One call per method, no retries: the caller decides with the error's
 * `retryable` and `stopsRun`, as the online workers do.
 *
 * Errors are the online client's (src/worker/errors.ts), built by the same classifier, so the key is
 * redacted from every message. Two more:
 * - BatchApiUnavailableError: 404 (or 405) on a route without an id (`POST /files`, `POST /batches`,
 *   `GET /batches`): the API has no batch endpoint, and the run stops (another mode is needed).
 * - BatchObjectNotFoundError: 404 on `/files/{id}` or `/batches/{id}`: that file or batch is gone.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import { errorFromException, errorFromResponse, type ClassifyContext } from '../worker/classify.js';
import { checkedEndpoint, loadUndici, MAX_TIMER_MS } from '../worker/client.js';
import { BATCH_CLIENT_DEFAULTS, HTTP_DEFAULTS } from '../config/defaults.js';
import { ApiCallError, InvalidRequestError, NetworkError, RateLimitedError, ServerError, type ApiCallErrorInit } from '../worker/errors.js';
import { HeaderLookup } from '../worker/response-headers.js';
import { BATCH_COMPLETION_WINDOW, BATCH_ENDPOINT, type BatchStatus, type ProviderBatch, type ProviderFile } from './types.js';

export interface BatchClientOptions {
  /** For example `https://api.openai.com/v1`; `/files` and `/batches` are appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; no header at all when undefined or blank. */
  apiKey: string | undefined;
  /** Whole-call limit of the small calls (get, create, list, cancel, delete). Default 60 s. */
  timeoutMs?: number;
  /** Whole-call limit of an upload. Default 10 min (a 200 MB file on a slow link). */
  uploadTimeoutMs?: number;
  /** Longest silence while a file's content streams in. Default 2 min. */
  downloadIdleMs?: number;
  /** A line of a downloaded file longer than this is refused rather than held in memory. Default 64 MiB. */
  maxLineBytes?: number;
  userAgent?: string;
}

/** A whole file (string or bytes, sent as is) or its lines (one JSONL line each, without the newline). */
export type BatchFileContent = string | Uint8Array | Iterable<string> | AsyncIterable<string>;

export interface CreateBatchParams {
  input_file_id: string;
  /** Up to 16 keys; respool uses it to find its batches again after a crash. */
  metadata?: Record<string, string>;
}

export interface BatchPage {
  data: ProviderBatch[];
  has_more: boolean;
  /** The cursor for the next page (`after`). */
  last_id: string | null;
}

/** The provider has no Batch API at this base URL. Stops the run: only another mode can help. */
export class BatchApiUnavailableError extends InvalidRequestError {
  override readonly stopsRun = true;
}

/** The file or batch named is not (or no longer) there. */
export class BatchObjectNotFoundError extends InvalidRequestError {}

/** An error answer's body is read up to this much, never a whole file sent back by mistake. */
const MAX_ERROR_BODY_CHARS = 64 * 1024;
const BATCH_STATUSES: ReadonlySet<string> = new Set<BatchStatus>(['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']);

type Send = (opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
let undici: Promise<Send> | null = null;
function http(): Promise<Send> {
  undici ??= loadUndici();
  return undici;
}

interface CallSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Below the base path, e.g. `/batches/batch_1/cancel`. */
  route: string;
  /** True for routes without an id: a 404 there means the API has no such endpoint. */
  collection: boolean;
  json?: unknown;
  body?: Dispatcher.DispatchOptions['body'];
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class BatchClient {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly basePath: string;
  readonly timeoutMs: number;
  readonly uploadTimeoutMs: number;
  readonly downloadIdleMs: number;
  readonly maxLineBytes: number;
  readonly userAgent: string;
  /** Private (#) so that it is neither enumerable nor reachable by JSON.stringify or util.inspect. */
  readonly #apiKey: string | undefined;

  constructor(opts: BatchClientOptions) {
    const endpoint = checkedEndpoint(opts.baseUrl, opts.apiKey);
    this.baseUrl = endpoint.baseUrl;
    this.origin = endpoint.origin;
    this.basePath = new URL(this.baseUrl).pathname.replace(/\/+$/, '');
    this.timeoutMs = positive(opts.timeoutMs ?? BATCH_CLIENT_DEFAULTS.timeoutMs, 'timeoutMs');
    this.uploadTimeoutMs = positive(opts.uploadTimeoutMs ?? BATCH_CLIENT_DEFAULTS.uploadTimeoutMs, 'uploadTimeoutMs');
    this.downloadIdleMs = positive(opts.downloadIdleMs ?? BATCH_CLIENT_DEFAULTS.downloadIdleMs, 'downloadIdleMs');
    this.maxLineBytes = positive(opts.maxLineBytes ?? BATCH_CLIENT_DEFAULTS.maxLineBytes, 'maxLineBytes');
    this.userAgent = opts.userAgent ?? HTTP_DEFAULTS.userAgent;
    this.#apiKey = endpoint.apiKey;
  }

  /** `POST /files` with purpose `batch`, as multipart/form-data streamed from `content`. */
  async uploadBatchFile(content: BatchFileContent, filename: string, opts: { signal?: AbortSignal } = {}): Promise<ProviderFile> {
    const boundary = `respool-${randomBytes(16).toString('hex')}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${headerSafeName(filename)}"\r\n` +
        `Content-Type: application/jsonl\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const headers: Record<string, string> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` };
    const knownLength = contentLength(content);
    if (knownLength !== null) headers['Content-Length'] = String(head.length + knownLength + tail.length);
    const json = await this.call({
      method: 'POST',
      route: '/files',
      collection: true,
      headers,
      body: Readable.from(multipartBody(head, content, tail), { objectMode: false }),
      timeoutMs: this.uploadTimeoutMs,
      signal: opts.signal,
    });
    return expectFile(json, 'POST /files');
  }

  /** `POST /batches` for `/v1/responses` with the `24h` window. */
  async createBatch(params: CreateBatchParams, opts: { signal?: AbortSignal } = {}): Promise<ProviderBatch> {
    const json = await this.call({
      method: 'POST',
      route: '/batches',
      collection: true,
      json: { input_file_id: params.input_file_id, endpoint: BATCH_ENDPOINT, completion_window: BATCH_COMPLETION_WINDOW, ...(params.metadata ? { metadata: params.metadata } : {}) },
      signal: opts.signal,
    });
    return expectBatch(json, 'POST /batches');
  }

  async getBatch(id: string, opts: { signal?: AbortSignal } = {}): Promise<ProviderBatch> {
    const json = await this.call({ method: 'GET', route: `/batches/${encodeURIComponent(id)}`, collection: false, signal: opts.signal });
    return expectBatch(json, 'GET /batches/{id}');
  }

  /** One page of batches, newest first; `after` is the `last_id` of the page before. */
  async listBatches(params: { after?: string; limit?: number } = {}, opts: { signal?: AbortSignal } = {}): Promise<BatchPage> {
    const query = new URLSearchParams();
    if (params.after !== undefined) query.set('after', params.after);
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    const qs = query.toString();
    const json = await this.call({ method: 'GET', route: `/batches${qs ? `?${qs}` : ''}`, collection: true, signal: opts.signal });
    const page = json as { data?: unknown; has_more?: unknown; last_id?: unknown } | null;
    if (!page || !Array.isArray(page.data)) throw unexpected('GET /batches', 'not a list of batches');
    const data = page.data.map((b) => expectBatch(b, 'GET /batches'));
    const lastId = typeof page.last_id === 'string' ? page.last_id : (data.at(-1)?.id ?? null);
    return { data, has_more: page.has_more === true, last_id: lastId };
  }

  /** Every batch, newest first, page by page: for finding a run's batches by their metadata after a crash. */
  async *allBatches(params: { pageSize?: number } = {}, opts: { signal?: AbortSignal } = {}): AsyncGenerator<ProviderBatch> {
    let after: string | undefined;
    for (;;) {
      const page = await this.listBatches({ after, limit: params.pageSize ?? 100 }, opts);
      yield* page.data;
      if (!page.has_more || page.last_id === null) return;
      after = page.last_id;
    }
  }

  /**
   * `POST /batches/{id}/cancel`. A batch that has already ended (409) is returned as it is: either
   * way the caller learns the batch's state and goes on from there.
   */
  async cancelBatch(id: string, opts: { signal?: AbortSignal } = {}): Promise<ProviderBatch> {
    try {
      const json = await this.call({ method: 'POST', route: `/batches/${encodeURIComponent(id)}/cancel`, collection: false, signal: opts.signal });
      return expectBatch(json, 'POST /batches/{id}/cancel');
    } catch (err) {
      if (err instanceof ApiCallError && err.status === 409) return this.getBatch(id, opts);
      throw err;
    }
  }

  async getFile(id: string, opts: { signal?: AbortSignal } = {}): Promise<ProviderFile> {
    const json = await this.call({ method: 'GET', route: `/files/${encodeURIComponent(id)}`, collection: false, signal: opts.signal });
    return expectFile(json, 'GET /files/{id}');
  }

  /** `DELETE /files/{id}`; false when the file was already gone. */
  async deleteFile(id: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      await this.call({ method: 'DELETE', route: `/files/${encodeURIComponent(id)}`, collection: false, signal: opts.signal });
      return true;
    } catch (err) {
      if (err instanceof BatchObjectNotFoundError) return false;
      throw err;
    }
  }

  /**
   * The lines of a file's content (`GET /files/{id}/content`) as they arrive, never the whole file in
   * memory; blank lines are skipped. Stopping early (break) closes the connection. A connection that
   * breaks or stays silent for `downloadIdleMs` throws a retryable error: the caller downloads again
   * and skips what it has already handled (lines are matched by custom_id, never by position).
   */
  async *fileLines(id: string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<string> {
    const what = `GET /files/{id}/content`;
    const ctx = this.classifyContext(this.downloadIdleMs);
    let res: Dispatcher.ResponseData;
    try {
      const send = await http();
      res = await send({
        origin: this.origin,
        path: `${this.basePath}/files/${encodeURIComponent(id)}/content`,
        method: 'GET',
        headers: this.headers({ Accept: 'application/octet-stream' }),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.downloadIdleMs,
        signal: opts.signal,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw errorFromException(err, false, ctx);
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      const text = await readBounded(res.body);
      throw this.httpError(res.statusCode, new HeaderLookup(res.headers), text, false, what);
    }
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let ended = false;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const parts = (rest + decoder.write(chunk)).split('\n');
        rest = parts.pop()!;
        if (Buffer.byteLength(rest) > this.maxLineBytes) throw new NetworkError({ message: `a line of file ${safeId(id)} is longer than ${this.maxLineBytes} bytes` });
        for (const part of parts) {
          const line = part.endsWith('\r') ? part.slice(0, -1) : part;
          if (line.trim() !== '') yield line;
        }
      }
      ended = true;
    } catch (err) {
      if (err instanceof ApiCallError || opts.signal?.aborted) throw err;
      throw errorFromException(err, false, ctx);
    } finally {
      // Left early (break, or the caller threw): drop the rest instead of reading it to the end.
      if (!ended) res.body.destroy();
    }
    const last = rest + decoder.end();
    if (last.trim() !== '') yield last.endsWith('\r') ? last.slice(0, -1) : last;
  }

  /** Safe to log: never includes the key. */
  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, timeoutMs: this.timeoutMs, hasApiKey: this.#apiKey !== undefined };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `BatchClient ${JSON.stringify(this.toJSON())}`;
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...extra };
    if (this.#apiKey !== undefined) headers['Authorization'] = `Bearer ${this.#apiKey}`;
    return headers;
  }

  private classifyContext(timeoutMs: number): ClassifyContext {
    return { secrets: this.#apiKey === undefined ? [] : [this.#apiKey], timeoutMs };
  }

  /** One request with a whole-call timeout; the parsed JSON of a 2xx answer, else a typed error. */
  private async call(spec: CallSpec): Promise<unknown> {
    const what = `${spec.method} ${spec.route.replace(/\?.*$/, '')}`;
    const timeoutMs = Math.min(spec.timeoutMs ?? this.timeoutMs, MAX_TIMER_MS);
    const ctx = this.classifyContext(timeoutMs);
    const headers = this.headers({ Accept: 'application/json', ...spec.headers });
    let body = spec.body;
    if (spec.json !== undefined) {
      const payload = JSON.stringify(spec.json);
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
      body = payload;
    }
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort(new DOMException(`no response within ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    const onCallerAbort = (): void => abort.abort(spec.signal?.reason);
    if (spec.signal?.aborted) onCallerAbort();
    else spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      const send = await http();
      const res = await send({ origin: this.origin, path: `${this.basePath}${spec.route}`, method: spec.method, headers, body, signal: abort.signal });
      const ok = res.statusCode >= 200 && res.statusCode <= 299;
      const text = ok ? await res.body.text() : await readBounded(res.body);
      if (!ok) throw this.httpError(res.statusCode, new HeaderLookup(res.headers), text, spec.collection, what);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw unexpected(what, 'the answer is not JSON');
      }
    } catch (err) {
      if (err instanceof ApiCallError) throw err;
      if (spec.signal?.aborted && !timedOut) throw err;
      throw errorFromException(err, timedOut, ctx);
    } finally {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private httpError(status: number, headers: HeaderLookup, text: string, collection: boolean, what: string): ApiCallError {
    const err = errorFromResponse(status, headers, text, this.classifyContext(this.timeoutMs));
    const init: ApiCallErrorInit = { message: `${what}: ${err.message}`, status, details: err.details, retryAfterMs: err.retryAfterMs };
    // A 404 that names a parameter is about an object (an unknown input_file_id), not a missing endpoint.
    if (collection && (status === 404 || status === 405) && !err.details?.param) {
      return new BatchApiUnavailableError({ ...init, message: `this API has no Batch API at ${this.baseUrl} (${what} answered HTTP ${status}); use mode online or flex instead` });
    }
    if (status === 404) return new BatchObjectNotFoundError(init);
    // The class (retryable or not, stops the run or not) stays the classifier's; the message says where.
    const Kind = err.constructor as new (init: ApiCallErrorInit) => ApiCallError;
    const located = new Kind(init);
    if (err instanceof RateLimitedError) (located as RateLimitedError).nothingLeft = err.nothingLeft;
    return located;
  }
}

function positive(value: number, name: string): number {
  if (!(typeof value === 'number' && value > 0)) throw new Error(`${name} must be positive, got ${value}`);
  return value;
}

/** A filename fit for a quoted header parameter: no quotes, backslashes, control or non-ASCII characters. */
function headerSafeName(name: string): string {
  const safe = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return safe === '' ? 'batch.jsonl' : safe;
}

/** Bytes of the file part when they can be known without reading a stream; null: send chunked. */
function contentLength(content: BatchFileContent): number | null {
  if (typeof content === 'string') return Buffer.byteLength(content);
  if (content instanceof Uint8Array) return content.byteLength;
  if (Array.isArray(content)) return (content as string[]).reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
  return null;
}

async function* multipartBody(head: Buffer, content: BatchFileContent, tail: Buffer): AsyncGenerator<Buffer> {
  yield head;
  if (typeof content === 'string') yield Buffer.from(content);
  else if (content instanceof Uint8Array) yield Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  else {
    for await (const line of content) {
      // A line with a newline in it would become two requests, or a broken one, in the provider's eyes.
      if (line.includes('\n')) throw new Error('a batch file line must not contain a newline');
      yield Buffer.from(`${line}\n`);
    }
  }
  yield tail;
}

/** An error answer's body, up to MAX_ERROR_BODY_CHARS; the rest is dropped. */
async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string> {
  let text = '';
  for await (const chunk of body as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > MAX_ERROR_BODY_CHARS) {
      body.destroy();
      return text.slice(0, MAX_ERROR_BODY_CHARS);
    }
  }
  return text;
}

function unexpected(what: string, why: string): ServerError {
  return new ServerError({ message: `unexpected answer to ${what}: ${why}` });
}

function safeId(id: string): string {
  return JSON.stringify(id.slice(0, 100));
}

function expectBatch(json: unknown, what: string): ProviderBatch {
  const b = json as Partial<ProviderBatch> | null;
  if (!b || typeof b !== 'object' || typeof b.id !== 'string' || typeof b.status !== 'string' || !BATCH_STATUSES.has(b.status)) {
    throw unexpected(what, 'not a batch object');
  }
  return b as ProviderBatch;
}

function expectFile(json: unknown, what: string): ProviderFile {
  const f = json as Partial<ProviderFile> | null;
  if (!f || typeof f !== 'object' || typeof f.id !== 'string') throw unexpected(what, 'not a file object');
  return f as ProviderFile;
}
