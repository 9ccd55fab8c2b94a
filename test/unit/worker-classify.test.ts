import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, errorFromException, errorFromFailedResponse, errorFromResponse, readErrorDetails, saysResourceUnavailable } from '../../src/worker/classify.js';
import {
  ApiCallError,
  AuthenticationError,
  CapacityUnavailableError,
  InvalidRequestError,
  NetworkError,
  RateLimitedError,
  RequestTimeoutError,
  ResponseFailedError,
  ServerError,
} from '../../src/worker/errors.js';

const KEY = 'sk-test-0123456789abcdefghij';
const none = new Headers();

function apiBody(message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error: { message, type: 'invalid_request_error', param: 'model', code: 'model_not_found', ...extra } });
}

/** What undici's fetch throws when the connection fails: TypeError('fetch failed') with a coded cause. */
function fetchFailed(code: string, message: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
}

describe('errorFromResponse', () => {
  it('maps 401 and 403 to AuthenticationError, which stops the run', () => {
    for (const status of [401, 403]) {
      const err = errorFromResponse(status, none, JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }), { secrets: [KEY] });
      assert.ok(err instanceof AuthenticationError);
      assert.equal(err.type, 'auth');
      assert.equal(err.status, status);
      assert.equal(err.stopsRun, true);
      assert.equal(err.retryable, false);
      assert.match(err.message, /API key was refused/);
      assert.match(err.message, new RegExp(`HTTP ${status}`));
      assert.match(err.message, /Incorrect API key provided/);
      assert.equal(decide(err, 1, 5), 'stop-run');
    }
  });

  it('maps 400, 404, 413, 422 and other 4xx to InvalidRequestError, not retried', () => {
    for (const status of [400, 404, 413, 422, 418]) {
      const err = errorFromResponse(status, none, apiBody('The model `x` does not exist'));
      assert.ok(err instanceof InvalidRequestError, String(status));
      assert.equal(err.type, 'invalid_request');
      assert.equal(err.retryable, false);
      assert.equal(err.stopsRun, false);
      assert.equal(decide(err, 1, 5), 'give-up');
    }
  });

  it('puts the API error type, code, param and message in the message and in details', () => {
    const err = errorFromResponse(404, none, apiBody('The model `x` does not exist'));
    assert.equal(err.message, 'HTTP 404 invalid_request_error/model_not_found, param model: The model `x` does not exist');
    assert.deepEqual(err.details, { message: 'The model `x` does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    assert.deepEqual(err.toLineError(), { type: 'invalid_request', message: err.message, status: 404 });
  });

  it('maps 429 to RateLimitedError with the Retry-After hint', () => {
    const err = errorFromResponse(429, new Headers({ 'retry-after': '7' }), JSON.stringify({ error: { message: 'slow down', type: 'too_many_requests' } }));
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.type, 'rate_limited');
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 7000);
    assert.match(err.message, /slow down/);
    assert.equal(decide(err, 1, 3), 'retry');
    assert.equal(decide(err, 3, 3), 'give-up');
  });

  it('maps 5xx, 408 and 409 to ServerError, retried', () => {
    for (const status of [500, 502, 503, 504, 529, 408, 409]) {
      const err = errorFromResponse(status, none, '');
      assert.ok(err instanceof ServerError, String(status));
      assert.equal(err.type, 'server_error');
      assert.equal(err.retryable, true);
      assert.equal(err.status, status);
    }
  });

  it('maps an unfollowed redirect to InvalidRequestError naming the location', () => {
    const err = errorFromResponse(301, new Headers({ location: 'https://api.example.com/v1/responses' }), '');
    assert.ok(err instanceof InvalidRequestError);
    assert.match(err.message, /redirected to https:\/\/api\.example\.com\/v1\/responses/);
  });

  it('quotes a non-JSON body, whitespace-collapsed and truncated to about 500 chars', () => {
    const html = `<html>\n<body>Bad   gateway</body>${'x'.repeat(2000)}</html>`;
    const err = errorFromResponse(502, none, html);
    assert.match(err.message, /^HTTP 502: <html> <body>Bad gateway<\/body>/);
    assert.ok(err.message.length < 600, `length ${err.message.length}`);
    assert.match(err.message, /more chars\)$/);
  });

  it('says when the body was empty', () => {
    assert.equal(errorFromResponse(500, none, '').message, 'HTTP 500 (empty body)');
  });

  it('reads the error-body variants seen in the wild', () => {
    assert.deepEqual(readErrorDetails('{"error":"quota exceeded"}'), { message: 'quota exceeded', type: null, param: null, code: null });
    assert.equal(readErrorDetails('{"detail":"Not Found"}')?.message, 'Not Found');
    assert.equal(readErrorDetails('{"message":"top-level","code":429}')?.code, '429');
    assert.equal(readErrorDetails('not json'), null);
    assert.equal(readErrorDetails('[]'), null);
  });
});

describe('errorFromException', () => {
  it('is a timeout when our timer fired, whatever the error', () => {
    const err = errorFromException(new DOMException('x', 'TimeoutError'), true, { timeoutMs: 1500 });
    assert.ok(err instanceof RequestTimeoutError);
    assert.equal(err.type, 'timeout');
    assert.equal(err.retryable, true);
    assert.equal(err.status, null);
    assert.match(err.message, /1500 ms/);
  });

  it('maps undici connection failures (fetch failed + cause code) to NetworkError', () => {
    const cases: [string, string][] = [
      ['ECONNRESET', 'read ECONNRESET'],
      ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'],
      ['UND_ERR_SOCKET', 'other side closed'],
      ['ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere.invalid'],
    ];
    for (const [code, message] of cases) {
      const err = errorFromException(fetchFailed(code, message), false);
      assert.ok(err instanceof NetworkError, code);
      assert.equal(err.type, 'network');
      assert.equal(err.retryable, true);
      assert.ok(err.message.includes(code), err.message);
      assert.equal(decide(err, 1, 2), 'retry');
    }
  });

  it('finds codes inside an AggregateError (happy eyeballs)', () => {
    const agg = new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })], 'all failed');
    const err = errorFromException(new TypeError('fetch failed', { cause: agg }), false);
    assert.ok(err instanceof NetworkError);
    assert.match(err.message, /ECONNREFUSED/);
  });

  it("maps undici's headers/body timeouts to RequestTimeoutError", () => {
    const err = errorFromException(fetchFailed('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'), false);
    assert.ok(err instanceof RequestTimeoutError);
  });

  it("maps a body read that ends early ('terminated') to NetworkError", () => {
    const terminated = new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    const err = errorFromException(terminated, false);
    assert.ok(err instanceof NetworkError);
    assert.match(err.message, /connection closed while reading the response body/);
  });

  it('maps JSON.parse of a truncated body to NetworkError "truncated response body"', () => {
    let syntax: unknown;
    try {
      JSON.parse('{"id":"resp_1","output":[{"type":"mess');
    } catch (e) {
      syntax = e;
    }
    const err = errorFromException(syntax, false);
    assert.ok(err instanceof NetworkError);
    assert.match(err.message, /^truncated response body/);
  });

  it('maps a complete but non-JSON body to NetworkError too', () => {
    let syntax: unknown;
    try {
      JSON.parse('<html>oops</html>');
    } catch (e) {
      syntax = e;
    }
    const err = errorFromException(syntax, false);
    assert.ok(err instanceof NetworkError);
    assert.match(err.message, /not valid JSON/);
  });

  it('passes an ApiCallError through unchanged', () => {
    const original = errorFromResponse(500, none, '');
    assert.equal(errorFromException(original, false), original);
  });

  it('keeps secrets out of messages built from exceptions', () => {
    const err = errorFromException(new TypeError(`fetch failed`, { cause: new Error(`bad header Bearer ${KEY}`) }), false, { secrets: [KEY] });
    assert.ok(!err.message.includes(KEY));
  });
});

describe('errorFromFailedResponse', () => {
  it('is a retryable ResponseFailedError with the code and message', () => {
    const err = errorFromFailedResponse({ code: 'server_error', message: 'The model crashed' });
    assert.ok(err instanceof ResponseFailedError);
    assert.ok(err instanceof ApiCallError);
    assert.equal(err.type, 'response_failed');
    assert.equal(err.status, 200);
    assert.equal(err.retryable, true);
    assert.equal(err.message, 'response failed: server_error: The model crashed');
    assert.equal(errorFromFailedResponse(null).message, 'response failed: no error details');
  });
});

describe('decide', () => {
  it('retries retryable errors until the last attempt, gives up on others, stops on auth', () => {
    const server = errorFromResponse(503, none, '');
    assert.equal(decide(server, 1, 3), 'retry');
    assert.equal(decide(server, 2, 3), 'retry');
    assert.equal(decide(server, 3, 3), 'give-up');
    assert.equal(decide(server, 1, 1), 'give-up');
    assert.equal(decide(errorFromResponse(400, none, ''), 1, 3), 'give-up');
    assert.equal(decide(errorFromResponse(401, none, ''), 3, 3), 'stop-run');
  });

  it('names the error class', () => {
    assert.equal(errorFromResponse(429, none, '').name, 'RateLimitedError');
  });
});

describe('flex "resource unavailable"', () => {
  const unavailable = JSON.stringify({ error: { message: 'Resource Unavailable: flex has no capacity', type: 'too_many_requests', param: null, code: 'resource_unavailable' } });

  it('a 429 that says the resource is unavailable is a CapacityUnavailableError: retryable, no "nothing left"', () => {
    const err = errorFromResponse(429, new Headers({ 'x-ratelimit-remaining-requests': '5' }), unavailable);
    assert.ok(err instanceof CapacityUnavailableError);
    assert.ok(err instanceof RateLimitedError, 'at a tier other than flex it is an ordinary 429');
    assert.equal(err.nothingLeft, false);
    assert.match(err.message, /no capacity for this tier/);
    assert.equal(decide(err, 1, 3), 'retry');
  });

  it('is told by code, type or message; an ordinary 429 or another status is not it', () => {
    assert.ok(saysResourceUnavailable({ message: null, type: null, param: null, code: 'resource_unavailable' }));
    assert.ok(saysResourceUnavailable({ message: 'Resource Unavailable', type: null, param: null, code: null }));
    assert.ok(!saysResourceUnavailable({ message: 'Rate limit reached', type: 'too_many_requests', param: null, code: 'rate_limit_exceeded' }));
    assert.ok(!saysResourceUnavailable(null));
    assert.ok(!(errorFromResponse(429, none, apiBody('Rate limit reached', { code: 'rate_limit_exceeded' })) instanceof CapacityUnavailableError));
    assert.ok(!(errorFromResponse(503, none, unavailable) instanceof CapacityUnavailableError));
  });
});
