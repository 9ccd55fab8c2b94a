/**
 * HTTP side of the fake OpenResponses server: routing, auth, body reading, rate limits, fault
 * injection and bookkeeping. Everything that decides *what* to answer lives in the pure modules next
 * to it. The hot path does one JSON.parse, one schema validation and one JSON.stringify per call, and
 * never logs, because benchmarks push thousands of calls per second through it.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errorBody, errorForStatus, FLEX_UNAVAILABLE, type ErrorBody } from './errors.js';
import { checkFaultOptions, createRng, decideFault, flexRefuses, retryHeaders } from './faults.js';
import { checkLimitOptions, RateLimiter } from './limits.js';
import { countsCalls, findMagic, mayHaveMagic, NO_MAGIC, type Magic } from './magic.js';
import { buildResponse, jsonSchemaFormat, planResponse, type ResponsePlan } from './respond.js';
import type { FakeServer, FakeServerOptions, FakeServerSettings, FakeStats, FaultOptions, LimitOptions, UsageCostOptions } from './types.js';
import { routerCost } from './usage.js';
import { checkCreateBody, specValidator } from './validate.js';
import { receivedImages } from './received-images.js';

/** Large enough for several 20 MB data-URI images, small enough to stop a runaway client. */
const MAX_BODY_BYTES = 128 * 1024 * 1024;
/** Longer than client pools keep idle sockets, so a reused socket is not closed under a request. */
const KEEP_ALIVE_MS = 30_000;
const DEFAULT_SEED = 1;
/** Stands in for the plan of a `[[status:NNN]]` call, which never builds a reply. */
const NO_PLAN: ResponsePlan = Object.freeze({ text: null, usage: null });

interface Settings {
  latencyMs: number;
  faults: FaultOptions | undefined;
  apiKey: string | undefined;
  limits: LimitOptions | undefined;
  usageCost: UsageCostOptions | undefined;
}

function emptyStats(): FakeStats {
  return {
    requests: 0,
    byStatus: {},
    byKey: {},
    resets: 0,
    truncated: 0,
    maxInFlight: 0,
    inputTokens: 0,
    outputTokens: 0,
    limited: 0,
    admitted: 0,
    tokensAdmitted: 0,
    windowPeak: { requests: 0, tokens: 0 },
    arrivals: [],
    requestBytes: 0,
    images: [],
  };
}

/** Kept for tests that need to see when calls came (a pause shows as a gap). */
const MAX_ARRIVALS = 10_000;

/** Throws a RangeError naming the bad field. */
export function checkSettings(p: FakeServerSettings): void {
  if (p.latencyMs !== undefined && !(typeof p.latencyMs === 'number' && Number.isFinite(p.latencyMs) && p.latencyMs >= 0)) {
    throw new RangeError('latencyMs must be a non-negative number');
  }
  if (p.apiKey !== undefined && typeof p.apiKey !== 'string') throw new RangeError('apiKey must be a string');
  if (p.faults !== undefined) {
    if (typeof p.faults !== 'object' || p.faults === null || Array.isArray(p.faults)) throw new RangeError('faults must be an object');
    checkFaultOptions(p.faults);
  }
  if (p.limits !== undefined) checkLimitOptions(p.limits);
  if (p.usageCost !== undefined) {
    const c = p.usageCost as Partial<UsageCostOptions> | null;
    const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (typeof c !== 'object' || c === null || !ok(c.inputPerMillion) || !ok(c.outputPerMillion)) {
      throw new RangeError('usageCost must be { inputPerMillion, outputPerMillion }, non-negative numbers');
    }
  }
}

export async function startFakeServer(opts: FakeServerOptions = {}): Promise<FakeServer> {
  checkSettings(opts);
  const host = opts.host ?? '127.0.0.1';
  const settings: Settings = {
    latencyMs: opts.latencyMs ?? 0,
    faults: opts.faults,
    apiKey: opts.apiKey || undefined,
    limits: opts.limits && { ...opts.limits },
    usageCost: opts.usageCost,
  };
  const limiter = new RateLimiter(settings.limits);
  const validate = specValidator('CreateResponseBody');

  let stats = emptyStats();
  let callsByKey = new Map<string, number>();
  /** Calls per key that reached fault injection; auth and validation rejections do not use up failFirst. */
  let faultCallsByKey = new Map<string, number>();
  let rng = createRng(settings.faults?.seed ?? DEFAULT_SEED);
  /** Calls per input text, kept only for `[[votes]]` and `[[invalid_first]]` requests. */
  let callsByInput = new Map<string, number>();
  let inFlight = 0;
  const timers = new Set<NodeJS.Timeout>();

  const idPrefix = randomBytes(6).toString('hex');
  let idCounter = 0;
  const id = (prefix: string): string => `${prefix}${idPrefix}${(idCounter++).toString(16).padStart(10, '0')}`;

  function setOptions(p: FakeServerSettings): void {
    checkSettings(p);
    if (p.latencyMs !== undefined) settings.latencyMs = p.latencyMs;
    if ('apiKey' in p) settings.apiKey = p.apiKey || undefined;
    if ('faults' in p) {
      settings.faults = p.faults;
      rng = createRng(p.faults?.seed ?? DEFAULT_SEED);
    }
    if ('usageCost' in p) settings.usageCost = p.usageCost;
    if ('limits' in p) {
      settings.limits = p.limits && { ...p.limits };
      limiter.configure(settings.limits);
    }
  }

  function reset(): void {
    stats = emptyStats();
    callsByKey = new Map();
    faultCallsByKey = new Map();
    callsByInput = new Map();
    rng = createRng(settings.faults?.seed ?? DEFAULT_SEED);
    // A fresh start for tests: calls from before the reset must not hold back the ones after it.
    limiter.clearWindow();
  }

  function snapshot(): FakeStats {
    return { ...stats, byStatus: { ...stats.byStatus }, byKey: Object.fromEntries(callsByKey), windowPeak: { ...stats.windowPeak }, arrivals: stats.arrivals.slice(-MAX_ARRIVALS), images: stats.images.slice(-MAX_ARRIVALS) };
  }

  function later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function send(res: ServerResponse, status: number, payload: unknown, headers: Readonly<Record<string, string>> = {}): void {
    if (res.destroyed || res.headersSent) return;
    const body = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(body);
  }

  function sendCounted(res: ServerResponse, status: number, payload: unknown, headers?: Readonly<Record<string, string>>): void {
    if (res.destroyed) return;
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    send(res, status, payload, headers);
  }

  /** `limitHeaders`: the `x-ratelimit-*` state of an admitted call; injected retry hints win over it. */
  function sendError(res: ServerResponse, status: number, error: ErrorBody, limitHeaders?: Readonly<Record<string, string>>): void {
    const hints = retryHeaders(status, settings.faults);
    sendCounted(res, status, error, limitHeaders ? { ...limitHeaders, ...hints } : hints);
  }

  function handleResponses(req: IncomingMessage, res: ServerResponse): void {
    const arrivedAt = Math.floor(Date.now() / 1000);
    stats.requests++;
    stats.arrivals.push(Date.now());
    if (stats.arrivals.length > MAX_ARRIVALS * 2) stats.arrivals = stats.arrivals.slice(-MAX_ARRIVALS);
    inFlight++;
    if (inFlight > stats.maxInFlight) stats.maxInFlight = inFlight;
    let closed = false;
    res.once('close', () => {
      inFlight--;
      closed = true;
    });

    const keyHeader = req.headers['idempotency-key'];
    const key = typeof keyHeader === 'string' && keyHeader !== '' ? keyHeader : '-';
    callsByKey.set(key, (callsByKey.get(key) ?? 0) + 1);

    if (settings.apiKey !== undefined && req.headers.authorization !== `Bearer ${settings.apiKey}`) {
      const message = req.headers.authorization ? 'Incorrect API key provided.' : 'Missing bearer authentication in header.';
      sendError(res, 401, errorBody(message, 'authentication_error', null, 'invalid_api_key'));
      return;
    }
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.toLowerCase().startsWith('application/json')) {
      sendError(res, 400, errorBody('Content-Type must be application/json.', 'invalid_request_error', null, 'unsupported_content_type'));
      return;
    }

    readBody(req, (err, raw) => {
      if (err) {
        if (err === TOO_LARGE) {
          res.setHeader('connection', 'close');
          sendError(res, 413, errorForStatus(413));
        } else {
          req.socket.destroy();
        }
        return;
      }
      stats.requestBytes += Buffer.byteLength(raw);
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        sendError(res, 400, errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null, 'invalid_json'));
        return;
      }
      const check = checkCreateBody(body, validate);
      if (!check.ok) {
        sendError(res, 400, errorBody(check.message, 'invalid_request_error', check.param, check.code));
        return;
      }
      const request = body as Record<string, unknown>;
      if (raw.includes('"input_image"')) {
        stats.images.push(...receivedImages(request));
        if (stats.images.length > MAX_ARRIVALS * 2) stats.images = stats.images.slice(-MAX_ARRIVALS);
      }
      let magic: Magic = mayHaveMagic(raw) ? findMagic(JSON.stringify(request.input)) : NO_MAGIC;
      // A configured share of structured answers break the schema, like `[[invalid_schema]]`.
      const structured = jsonSchemaFormat(request) !== null;
      const rateInvalid = settings.faults?.rateInvalid ?? 0;
      if (rateInvalid > 0 && structured && rng() < rateInvalid) magic = { ...magic, invalidSchema: true };
      let callIndex = 0;
      if (structured && countsCalls(magic)) {
        const inputKey = JSON.stringify(request.input);
        callIndex = callsByInput.get(inputKey) ?? 0;
        callsByInput.set(inputKey, callIndex + 1);
      }
      const delay = settings.latencyMs + magic.latencyMs;
      // A client that hung up while its body was read would never release a concurrency slot.
      if (closed) return;
      // Before the limits, as a provider's flex queue turns the call away before it is admitted.
      if (flexRefuses(request, settings.faults, rng)) {
        sendCounted(res, 429, FLEX_UNAVAILABLE, retryHeaders(429, settings.faults));
        return;
      }

      // The reply's usage is settled now, so that the token cost the limiter charges is exactly the
      // `total_tokens` the reply reports. Forced error statuses report no usage and cost nothing.
      const plan = magic.status === null ? planResponse(request, magic, callIndex) : NO_PLAN;
      const cost = plan.usage?.total_tokens ?? 0;
      const admission = limiter.admit(performance.now(), cost, delay);
      if (!admission.ok) {
        stats.limited++;
        sendCounted(res, 429, errorBody(admission.message, 'too_many_requests', null, 'rate_limit_exceeded'), admission.headers);
        return;
      }
      stats.admitted++;
      stats.tokensAdmitted += cost;
      if (admission.windowRequests > stats.windowPeak.requests) stats.windowPeak.requests = admission.windowRequests;
      if (admission.windowTokens > stats.windowPeak.tokens) stats.windowPeak.tokens = admission.windowTokens;
      res.once('close', () => limiter.release(admission.ticket));
      const limitHeaders = admission.headers;

      const forced = magic.status;
      if (forced !== null) {
        later(delay, () => sendError(res, forced, errorForStatus(forced), limitHeaders));
        return;
      }

      const faultIndex = faultCallsByKey.get(key) ?? 0;
      faultCallsByKey.set(key, faultIndex + 1);
      const fault = decideFault(faultIndex, settings.faults, rng);
      switch (fault) {
        case '429':
        case '500':
        case '503':
          sendError(res, Number(fault), errorForStatus(Number(fault)), limitHeaders);
          return;
        case 'reset':
          stats.resets++;
          req.socket.destroy();
          return;
        default:
          break;
      }

      later(delay, () => {
        if (res.destroyed) return;
        const response = buildResponse(request, magic, { id, createdAt: arrivedAt, completedAt: Math.floor(Date.now() / 1000) }, plan);
        if (fault === 'truncate') {
          stats.truncated++;
          sendTruncated(res, JSON.stringify(response), limitHeaders);
          return;
        }
        if (response.usage && settings.usageCost) response.usage = { ...response.usage, cost: routerCost(response.usage, settings.usageCost) };
        if (response.usage) {
          stats.inputTokens += response.usage.input_tokens;
          stats.outputTokens += response.usage.output_tokens;
        }
        sendCounted(res, 200, response, { ...limitHeaders, 'x-request-id': id('req_') });
      });
    });
  }

  function handleControl(path: string, req: IncomingMessage, res: ServerResponse): void {
    if (path === '/_stats' && req.method === 'GET') return send(res, 200, snapshot());
    if (path === '/_reset' && req.method === 'POST') {
      reset();
      return send(res, 200, { ok: true });
    }
    if (path === '/_options' && req.method === 'POST') {
      readBody(req, (err, raw) => {
        if (err) return send(res, 400, errorBody('Could not read the request body.', 'invalid_request_error'));
        try {
          const parsed: unknown = raw.trim() === '' ? {} : JSON.parse(raw);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RangeError('the body must be a JSON object');
          setOptions(nullsToUndefined(parsed as Record<string, unknown>));
        } catch (e) {
          return send(res, 400, errorBody(`Invalid options: ${(e as Error).message}`, 'invalid_request_error'));
        }
        // The key itself is never sent back, only whether one is set.
        send(res, 200, {
          ok: true,
          latencyMs: settings.latencyMs,
          faults: settings.faults ?? null,
          limits: settings.limits ?? null,
          usageCost: settings.usageCost ?? null,
          auth: settings.apiKey !== undefined,
        });
      });
      return;
    }
    send(res, 404, errorBody(`Unknown route: ${req.method ?? 'GET'} ${path}`, 'not_found', null, 'not_found'));
  }

  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (path.startsWith('/v1/')) path = path.slice(3);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (path === '/responses' && req.method === 'POST') handleResponses(req, res);
    else handleControl(path, req, res);
  });
  server.headersTimeout = KEEP_ALIVE_MS + 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    stats: snapshot,
    reset,
    setOptions,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

const TOO_LARGE = new Error('request body too large');

function readBody(req: IncomingMessage, done: (err: Error | null, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      finished = true;
      req.resume();
      done(TOO_LARGE, '');
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(null, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
  });
  req.on('error', (err) => {
    if (finished) return;
    finished = true;
    done(err, '');
  });
}

/** Announces the full length, writes half, then drops the connection: a body cut off in transit. */
function sendTruncated(res: ServerResponse, payload: string, headers: Readonly<Record<string, string>>): void {
  const bytes = Buffer.from(payload);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers });
  res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy());
}

/**
 * JSON has no `undefined`; in `/_options`, null means "unset" (for example `{"apiKey": null}` or
 * `{"limits": null}`), and so does a null field inside `limits` (`{"limits": {"tpm": null}}`).
 */
function nullsToUndefined(o: Record<string, unknown>): FakeServerSettings {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'latencyMs' || k === 'faults' || k === 'apiKey' || k === 'usageCost') out[k] = v === null ? undefined : v;
    if (k === 'limits') out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? dropNulls(v as Record<string, unknown>) : v ?? undefined;
  }
  return out as FakeServerSettings;
}

function dropNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
}
