import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowance, checkLimitOptions, formatDuration, RateLimiter, type LimitDecision, type Refused } from '../../src/fake-server/limits.js';
import type { LimitOptions } from '../../src/fake-server/types.js';

// The limiter takes the clock as an argument, so these tests drive it with made-up times.

function refused(d: LimitDecision): Refused {
  assert.equal(d.ok, false, 'the call was admitted');
  return d as Refused;
}

function admitted(d: LimitDecision): Extract<LimitDecision, { ok: true }> {
  assert.equal(d.ok, true, d.ok ? '' : `the call was refused: ${d.message}`);
  return d as Extract<LimitDecision, { ok: true }>;
}

test('the allowance per window scales the per-minute rate and rounds down', () => {
  assert.equal(allowance(600, 1000), 10);
  assert.equal(allowance(60, 60_000), 60);
  assert.equal(allowance(100, 1000), 1);
  assert.equal(allowance(0.3, 200_000), 1, 'float error must not drop a whole unit');
  assert.equal(allowance(30, 1000), 0);
});

test('durations are written the way OpenAI writes them', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(-5), '0s');
  assert.equal(formatDuration(0.2), '1ms', 'fractions round up');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(1000), '1s');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(61_001), '1m1.001s');
  assert.equal(formatDuration(360_000), '6m0s');
  assert.equal(formatDuration(3_600_000), '1h0m0s');
  assert.equal(formatDuration(3_723_400), '1h2m3.4s');
});

test('bad limit options are refused with the field named', () => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /limits must be an object/],
    [{ rpm: 0 }, /limits\.rpm must be a positive number/],
    [{ tpm: -1 }, /limits\.tpm/],
    [{ rpm: Number.NaN }, /limits\.rpm/],
    [{ windowMs: 1.5 }, /limits\.windowMs must be a positive integer/],
    [{ maxConcurrent: 0 }, /limits\.maxConcurrent/],
    [{ headers: 'yes' }, /limits\.headers/],
    [{ rpm: 30, windowMs: 1000 }, /limits\.rpm 30 allows less than one request per 1000 ms window/],
    [{ tpm: 59, windowMs: 1000 }, /limits\.tpm 59 allows less than one token/],
  ];
  for (const [limits, message] of bad) assert.throws(() => checkLimitOptions(limits as LimitOptions), message);
  for (const ok of [{}, { rpm: 60, windowMs: 1000 }, { tpm: 1, maxConcurrent: 1, headers: false }]) checkLimitOptions(ok);
});

test('without limits every call is admitted and no headers are sent', () => {
  const l = new RateLimiter();
  for (let i = 0; i < 1000; i++) {
    const d = admitted(l.admit(0, 1_000_000, 0));
    assert.deepEqual(d.headers, {});
    assert.equal(d.windowRequests, 0);
  }
});

test('rpm: the window admits its allowance, refuses the rest and frees up as entries age out', () => {
  const l = new RateLimiter({ rpm: 600, windowMs: 1000 });
  for (let t = 0; t < 10; t++) {
    const d = admitted(l.admit(t, 1, 0));
    assert.equal(d.windowRequests, t + 1);
    assert.equal(d.headers['x-ratelimit-limit-requests'], '600', 'limit: the per-minute value, as OpenAI sends it');
    assert.equal(d.headers['x-ratelimit-remaining-requests'], String(9 - t));
    // Room for another call until the tenth; then the wait for the oldest entry (at 0) to leave.
    assert.equal(d.headers['x-ratelimit-reset-requests'], t < 9 ? '0s' : '992ms');
    assert.equal(d.headers['x-ratelimit-limit-tokens'], undefined, 'no token headers without tpm');
  }
  for (let i = 0; i < 50; i++) {
    const r = refused(l.admit(10, 1, 0));
    assert.deepEqual(r.kinds, ['requests']);
    // The oldest entry leaves at 1000; one millisecond of slack is added for client timers.
    assert.equal(r.retryAfterMs, 991);
    assert.equal(r.headers['retry-after-ms'], '991');
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.headers['x-ratelimit-remaining-requests'], '0');
    assert.equal(r.headers['x-ratelimit-reset-requests'], '991ms');
    assert.match(r.message, /^Rate limit reached for requests \(600 RPM\): Limit 10 per 1s window, Used 10, Requested 1\. Please try again in 991ms\.$/);
  }
  refused(l.admit(999.5, 1, 0));
  // Refused calls left no trace: at 1000 exactly one entry (the one at 0) has left.
  admitted(l.admit(1000, 1, 0));
  assert.equal(refused(l.admit(1000, 1, 0)).retryAfterMs, 2, 'the next entry (at 1) leaves at 1001');
  const later = admitted(l.admit(5000, 1, 0));
  assert.equal(later.windowRequests, 1);
});

test('tpm: the cost is weighed against what is left, and the wait covers just enough expiring entries', () => {
  const l = new RateLimiter({ tpm: 6000, windowMs: 1000 }); // 100 tokens per window
  assert.equal(admitted(l.admit(0, 60, 0)).headers['x-ratelimit-remaining-tokens'], '40');
  admitted(l.admit(10, 30, 0));
  const r = refused(l.admit(20, 20, 0));
  assert.deepEqual(r.kinds, ['tokens']);
  assert.match(r.message, /^Rate limit reached for tokens \(6000 TPM\): Limit 100 per 1s window, Used 90, Requested 20\./);
  // 10 tokens too many: the entry at 0 (60 tokens) leaving is enough.
  assert.equal(r.retryAfterMs, 981);
  assert.equal(r.headers['x-ratelimit-remaining-tokens'], '10');
  assert.equal(r.headers['x-ratelimit-reset-tokens'], '981ms');
  assert.equal(r.headers['x-ratelimit-limit-requests'], undefined, 'no request headers without rpm');
  const fits = admitted(l.admit(20, 10, 0));
  assert.equal(fits.windowTokens, 100);
  assert.equal(fits.headers['x-ratelimit-remaining-tokens'], '0');
  assert.equal(fits.headers['x-ratelimit-reset-tokens'], '981ms', 'room for another 10 once the entry at 0 leaves');

  // Many small entries: a cost that needs three of them to leave waits for the third.
  const s = new RateLimiter({ tpm: 6000, windowMs: 1000 });
  for (let t = 0; t < 10; t++) admitted(s.admit(t, 10, 0));
  assert.equal(refused(s.admit(100, 30, 0)).retryAfterMs, 2 + 1000 - 100 + 1);
  assert.equal(refused(s.admit(100, 100, 0)).retryAfterMs, 9 + 1000 - 100 + 1);
  admitted(s.admit(0 + 1000, 10, 0));
});

test('a call whose cost alone is over the token allowance is refused with no retry hint', () => {
  const l = new RateLimiter({ tpm: 6000, windowMs: 1000 });
  admitted(l.admit(0, 40, 0));
  const r = refused(l.admit(10, 101, 0));
  assert.deepEqual(r.kinds, ['tokens']);
  assert.equal(r.retryAfterMs, null);
  assert.equal(r.headers['retry-after-ms'], undefined);
  assert.equal(r.headers['retry-after'], undefined);
  assert.match(r.message, /Request too large for tokens .*Requested 101\. No wait makes it fit\.$/);
  assert.equal(r.headers['x-ratelimit-reset-tokens'], '991ms', 'the reset is then when the window is empty');
});

test('every broken limit is named and the wait is the longest of them', () => {
  const l = new RateLimiter({ rpm: 120, tpm: 600, windowMs: 1000 }); // 2 requests, 10 tokens
  admitted(l.admit(0, 1, 0));
  admitted(l.admit(100, 8, 0));
  const r = refused(l.admit(200, 5, 0));
  assert.deepEqual(r.kinds, ['requests', 'tokens']);
  assert.match(r.message, /requests.*tokens/);
  // A request slot frees at 1000, but the tokens only once the entry at 100 leaves too.
  assert.equal(r.headers['x-ratelimit-reset-requests'], '801ms');
  assert.equal(r.headers['x-ratelimit-reset-tokens'], '901ms');
  assert.equal(r.retryAfterMs, 901);
});

test('maxConcurrent: held calls fill the slots, the wait is until the first is expected to finish', () => {
  const l = new RateLimiter({ maxConcurrent: 2 });
  const a = admitted(l.admit(0, 1, 100));
  admitted(l.admit(0, 1, 50));
  const r = refused(l.admit(10, 1, 0));
  assert.deepEqual(r.kinds, ['concurrency']);
  assert.match(r.message, /^Too many concurrent requests: Limit 2, In flight 2\. Please try again in 41ms\.$/);
  assert.equal(r.retryAfterMs, 41);
  // A held call that is overdue still gets a wait of at least 1 ms.
  assert.equal(refused(l.admit(500, 1, 0)).retryAfterMs, 1);
  l.release(a.ticket);
  assert.equal(l.inFlight, 1);
  admitted(l.admit(500, 1, 0));
});

test('calls in flight stay counted when the limits change', () => {
  const l = new RateLimiter();
  const held = admitted(l.admit(0, 1, 1000));
  l.configure({ maxConcurrent: 1 });
  refused(l.admit(1, 1, 0));
  l.release(held.ticket);
  admitted(l.admit(2, 1, 0));
});

test('new limits and clearWindow start an empty window', () => {
  const l = new RateLimiter({ rpm: 60, windowMs: 1000 });
  admitted(l.admit(0, 1, 0));
  refused(l.admit(1, 1, 0));
  l.clearWindow();
  admitted(l.admit(2, 1, 0));
  l.configure({ rpm: 120, windowMs: 1000 });
  admitted(l.admit(3, 1, 0));
  admitted(l.admit(4, 1, 0));
  refused(l.admit(5, 1, 0));
});

test('headers: false drops the x-ratelimit headers but keeps the retry hints', () => {
  const l = new RateLimiter({ rpm: 60, windowMs: 1000, headers: false });
  assert.deepEqual(admitted(l.admit(0, 1, 0)).headers, {});
  assert.deepEqual(refused(l.admit(1, 1, 0)).headers, { 'retry-after-ms': '1000', 'retry-after': '1' });
});

test('a long run keeps the window sums right across compactions', () => {
  const l = new RateLimiter({ rpm: 60_000_000, tpm: 60_000_000, windowMs: 1000 });
  for (let t = 0; t < 20_000; t++) {
    const d = admitted(l.admit(t, 3, 0));
    const inWindow = Math.min(t + 1, 1000);
    assert.equal(d.windowRequests, inWindow);
    assert.equal(d.windowTokens, 3 * inWindow);
  }
  // With a tight token limit the binary search still finds the right entry after compaction.
  l.configure({ tpm: 60_000, windowMs: 1000 }); // 1000 tokens
  for (let t = 0; t < 20_000; t++) admitted(l.admit(t, 1, 0));
  assert.equal(refused(l.admit(19_999, 2, 0)).retryAfterMs, 19_001 + 1000 - 19_999 + 1);
});
