import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createRequire } from 'node:module';
import { loadUndici, OpenResponsesClient } from '../../src/worker/client.js';
import {
  AuthenticationError,
  InvalidRequestError,
  NetworkError,
  RateLimitedError,
  RequestTimeoutError,
  ServerError,
} from '../../src/worker/errors.js';

const KEY = 'sk-test-client-0123456789abcdef';

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Real HTTP on 127.0.0.1; each test picks the server's behaviour through the `x-scenario` path suffix. */
let server: Server;
let base: string;
const seen: Seen[] = [];

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method, url: req.url, headers: req.headers, body });
  const scenario = (JSON.parse(body) as { scenario?: string }).scenario;
  switch (scenario) {
    case 'hang':
      return; // never answers: the client's timeout must fire
    case '401':
      return reply(res, 401, JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization ?? ''}`, type: 'invalid_request_error', code: 'invalid_api_key' } }));
    case '400':
      return reply(res, 400, JSON.stringify({ error: { message: 'bad input', type: 'invalid_request_error', param: 'input', code: null } }));
    case '429':
      return reply(res, 429, JSON.stringify({ error: { message: 'slow down', type: 'too_many_requests' } }), { 'retry-after': '2' });
    case '500':
      return reply(res, 500, JSON.stringify({ error: { message: 'oops', type: 'server_error' } }));
    case 'redirect':
      return reply(res, 308, '', { location: 'https://elsewhere.example/v1/responses' });
    case 'not-json':
      return reply(res, 200, '<html>hello</html>', { 'content-type': 'text/html' });
    case 'truncated':
      // Promise 1000 bytes, send 20, then drop the connection.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":"resp_1","sta');
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    default:
      return reply(res, 200, JSON.stringify({ id: 'resp_1', object: 'response', status: 'completed', output: [] }), { 'x-test': 'yes' });
  }
}

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function client(timeoutMs = 2000, opts: { apiKey?: string } = { apiKey: KEY }): OpenResponsesClient {
  return new OpenResponsesClient({ baseUrl: base, apiKey: opts.apiKey, timeoutMs, userAgent: 'respool-test' });
}

describe('OpenResponsesClient', () => {
  it('POSTs JSON to {base}/responses with the auth, idempotency and content-type headers', async () => {
    seen.length = 0;
    const res = await client().createResponse({ model: 'm', input: 'hi' }, { idempotencyKey: 'job-42' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { id: 'resp_1', object: 'response', status: 'completed', output: [] });
    assert.equal(res.headers.get('x-test'), 'yes');
    assert.ok(res.latencyMs >= 0);
    const [req] = seen;
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/v1/responses', 'trailing slash of the base URL dropped');
    assert.equal(req.headers['authorization'], `Bearer ${KEY}`);
    assert.equal(req.headers['idempotency-key'], 'job-42');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['user-agent'], 'respool-test');
    assert.deepEqual(JSON.parse(req.body), { model: 'm', input: 'hi' });
  });

  it('sends no Authorization header without a key, and no Idempotency-Key unless given', async () => {
    seen.length = 0;
    await client(2000, {}).createResponse({ input: 'x' });
    await client(2000, { apiKey: '   ' }).createResponse({ input: 'x' });
    assert.equal(seen.length, 2);
    for (const req of seen) {
      assert.equal(req.headers['authorization'], undefined);
      assert.equal(req.headers['idempotency-key'], undefined);
    }
  });

  it('turns a hanging server into RequestTimeoutError', async () => {
    await assert.rejects(client(150).createResponse({ scenario: 'hang' }), (err: unknown) => {
      assert.ok(err instanceof RequestTimeoutError, String(err));
      assert.match(err.message, /150 ms/);
      assert.ok(err.latencyMs !== null && err.latencyMs >= 140);
      return true;
    });
  });

  it('maps non-2xx replies to the right class, keeping the key out of the message', async () => {
    const cases = [
      ['401', AuthenticationError],
      ['400', InvalidRequestError],
      ['429', RateLimitedError],
      ['500', ServerError],
      ['redirect', InvalidRequestError],
    ] as const;
    for (const [scenario, cls] of cases) {
      await assert.rejects(client().createResponse({ scenario }), (err: unknown) => {
        assert.ok(err instanceof cls, `${scenario}: ${String(err)}`);
        assert.ok(!err.message.includes(KEY), err.message);
        assert.ok(!inspect(err).includes(KEY));
        assert.ok(err.latencyMs !== null);
        return true;
      });
    }
    await assert.rejects(client().createResponse({ scenario: '429' }), (err: unknown) => err instanceof RateLimitedError && err.retryAfterMs === 2000);
  });

  it('maps a truncated body, a non-JSON body and a refused connection to NetworkError', async () => {
    await assert.rejects(client().createResponse({ scenario: 'truncated' }), NetworkError);
    await assert.rejects(client().createResponse({ scenario: 'not-json' }), (err: unknown) => err instanceof NetworkError && /not valid JSON/.test(err.message));

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = new OpenResponsesClient({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: KEY, timeoutMs: 2000 });
    await assert.rejects(refused.createResponse({}), (err: unknown) => err instanceof NetworkError && /ECONNREFUSED/.test(err.message));
  });

  it("rethrows the caller's abort untouched", async () => {
    const controller = new AbortController();
    const reason = new Error('worker closing');
    const pending = client(5000).createResponse({ scenario: 'hang' }, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 30);
    await assert.rejects(pending, (err: unknown) => err === reason);
  });

  it('never reveals the key through JSON.stringify, util.inspect or its own keys', () => {
    const c = client();
    assert.ok(!JSON.stringify(c).includes(KEY));
    assert.ok(!inspect(c, { showHidden: true, depth: 5 }).includes(KEY));
    assert.ok(!Object.keys(c).some((k) => String((c as unknown as Record<string, unknown>)[k]).includes(KEY)));
    assert.equal(c.hasApiKey, true);
  });

  it("loads only undici's Agent and request, and the whole package if those files ever move", async () => {
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /[\\/]undici[\\/]index\.js$/.test(k));
    const body = JSON.stringify({ model: 'm', input: 'hi' });
    const url = new URL(`${base}/responses`);
    const send = async (parts?: Parameters<typeof loadUndici>[0]) => {
      const request = await loadUndici(parts);
      const res = await request({ origin: url.origin, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: res.statusCode, json: await res.body.json() };
    };
    assert.deepEqual(await send(), { status: 200, json: { id: 'resp_1', object: 'response', status: 'completed', output: [] } });
    assert.deepEqual(loaded(), [], "undici's index (fetch, WebSocket, cache, mocks) stays unloaded");
    const moved = await send({ agent: 'undici/lib/moved/agent.js', request: 'undici/lib/moved/api-request.js' });
    assert.equal(moved.status, 200);
    assert.equal(loaded().length, 1, 'the fallback loads the package');
  });

  it('rejects a bad base URL and a key that cannot be a header, without quoting the key', () => {
    assert.throws(() => new OpenResponsesClient({ baseUrl: 'not a url', apiKey: KEY, timeoutMs: 1000 }), /invalid base URL/);
    assert.throws(() => new OpenResponsesClient({ baseUrl: 'ftp://x/v1', apiKey: KEY, timeoutMs: 1000 }), /http/);
    assert.throws(() => new OpenResponsesClient({ baseUrl: 'http://u:p@x/v1', apiKey: KEY, timeoutMs: 1000 }), /credentials/);
    assert.throws(
      () => new OpenResponsesClient({ baseUrl: base, apiKey: `${KEY}\nX-Evil: 1`, timeoutMs: 1000 }),
      (err: unknown) => err instanceof Error && !err.message.includes(KEY),
    );
  });
});
