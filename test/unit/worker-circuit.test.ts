import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callSignal, isOpen, unavailableReason } from '../../src/worker/circuit.js';
import { errorFromException, errorFromFailedResponse, errorFromResponse } from '../../src/worker/classify.js';

const none = new Headers();
const refused = () => new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });

describe('circuit breaker: what a call tells it', () => {
  it('a 2xx answer, a 4xx, a 429 and a response that failed are answers: the API is there', () => {
    assert.equal(callSignal(null), 'answered');
    for (const status of [400, 401, 404, 408, 409, 422, 429]) assert.equal(callSignal(errorFromResponse(status, none, '{}')), 'answered', String(status));
    assert.equal(callSignal(errorFromFailedResponse({ code: 'server_error', message: 'boom' })), 'answered');
  });

  it('no connection (refused, connect timeout) and a 5xx count as unavailable', () => {
    assert.equal(callSignal(errorFromException(refused(), false)), 'unavailable');
    const connectTimeout = new TypeError('fetch failed', { cause: Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }) });
    assert.equal(callSignal(errorFromException(connectTimeout, false)), 'unavailable');
    for (const status of [500, 502, 503, 504]) assert.equal(callSignal(errorFromResponse(status, none, 'Bad gateway')), 'unavailable', String(status));
  });

  it('a call that connected but got no answer in time is neutral: a slow model is not a dead API', () => {
    assert.equal(callSignal(errorFromException(new Error('aborted'), true, { timeoutMs: 1000 })), 'neutral');
    const headersTimeout = new TypeError('fetch failed', { cause: Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }) });
    assert.equal(callSignal(errorFromException(headersTimeout, false)), 'neutral');
  });

  it('what is not an API call outcome (an abort, a bug) is neutral', () => {
    assert.equal(callSignal(new Error('a bug')), 'neutral');
    assert.equal(callSignal(new DOMException('aborted', 'AbortError')), 'neutral');
  });
});

describe('circuit breaker: when it opens', () => {
  it('opens at the threshold of failures in a row, not before', () => {
    assert.equal(isOpen({ failures: 19, spanMs: 5000 }, 20, 1000), false);
    assert.equal(isOpen({ failures: 20, spanMs: 5000 }, 20, 1000), true);
    assert.equal(isOpen({ failures: 21, spanMs: 5000 }, 20, 1000), true);
  });

  it('a burst shorter than the first retry delay does not open it, however many calls failed', () => {
    assert.equal(isOpen({ failures: 500, spanMs: 999 }, 20, 1000), false);
    assert.equal(isOpen({ failures: 500, spanMs: 1000 }, 20, 1000), true);
  });

  it('a threshold of 0 never opens', () => {
    assert.equal(isOpen({ failures: 1_000_000, spanMs: 3_600_000 }, 0, 1000), false);
  });

  it('the stop reason names the base URL, the count and the last error, and says what to do', () => {
    const reason = unavailableReason('http://127.0.0.1:9/v1', 20, 'request failed: ECONNREFUSED');
    assert.match(reason, /the API at http:\/\/127\.0\.0\.1:9\/v1 could not be reached/);
    assert.match(reason, /20 calls in a row failed \(last: request failed: ECONNREFUSED\)/);
    assert.match(reason, /check the base URL .* run the same command again to resume/);
  });
});
