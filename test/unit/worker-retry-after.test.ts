import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RETRY_AFTER_MS, parseDuration, parseRetryAfter } from '../../src/worker/retry-after.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const h = (init: Record<string, string>) => new Headers(init);

describe('parseRetryAfter', () => {
  it('reads Retry-After seconds, whole or fractional', () => {
    assert.equal(parseRetryAfter(h({ 'retry-after': '3' }), NOW), 3000);
    assert.equal(parseRetryAfter(h({ 'Retry-After': ' 1.5 ' }), NOW), 1500);
    assert.equal(parseRetryAfter(h({ 'retry-after': '0' }), NOW), 0);
  });

  it('reads Retry-After as an HTTP date', () => {
    assert.equal(parseRetryAfter(h({ 'retry-after': 'Sun, 01 Mar 2026 12:00:30 GMT' }), NOW), 30_000);
  });

  it('ignores a date in the past', () => {
    assert.equal(parseRetryAfter(h({ 'retry-after': 'Sun, 01 Mar 2026 11:59:00 GMT' }), NOW), null);
  });

  it('prefers retry-after-ms (float ms) over Retry-After', () => {
    assert.equal(parseRetryAfter(h({ 'retry-after-ms': '250.5', 'retry-after': '9' }), NOW), 250.5);
  });

  it('falls back to Retry-After when retry-after-ms is garbage', () => {
    assert.equal(parseRetryAfter(h({ 'retry-after-ms': 'soon', 'retry-after': '2' }), NOW), 2000);
  });

  it('ignores negatives and garbage', () => {
    for (const value of ['-1', 'abc', '', '1e3', '0x10', '1,5', 'NaN', 'Infinity']) {
      assert.equal(parseRetryAfter(h({ 'retry-after': value }), NOW), null, value);
      assert.equal(parseRetryAfter(h({ 'retry-after-ms': value }), NOW), null, value);
    }
  });

  it('caps at 10 minutes', () => {
    assert.equal(parseRetryAfter(h({ 'retry-after': '86400' }), NOW), MAX_RETRY_AFTER_MS);
    assert.equal(parseRetryAfter(h({ 'x-ratelimit-reset-tokens': '2h' }), NOW), MAX_RETRY_AFTER_MS);
  });

  it('reads x-ratelimit-reset-* only without retry-after headers, taking the larger', () => {
    assert.equal(parseRetryAfter(h({ 'x-ratelimit-reset-requests': '1s', 'x-ratelimit-reset-tokens': '6m0s' }), NOW), 360_000);
    assert.equal(parseRetryAfter(h({ 'x-ratelimit-reset-requests': '250ms', 'x-ratelimit-reset-tokens': '20ms' }), NOW), 250);
    assert.equal(parseRetryAfter(h({ 'x-ratelimit-reset-tokens': '20ms' }), NOW), 20);
    assert.equal(parseRetryAfter(h({ 'x-ratelimit-reset-tokens': '6m0s', 'retry-after': '1' }), NOW), 1000);
    assert.equal(parseRetryAfter(h({ 'x-ratelimit-reset-requests': 'garbage', 'x-ratelimit-reset-tokens': '2s' }), NOW), 2000);
  });

  it('returns null without any hint', () => {
    assert.equal(parseRetryAfter(h({}), NOW), null);
  });
});

describe('parseDuration', () => {
  it('reads Go-style durations', () => {
    assert.equal(parseDuration('1s'), 1000);
    assert.equal(parseDuration('6m0s'), 360_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1h2m3.5s'), 3_723_500);
    assert.equal(parseDuration('1.5s'), 1500);
  });

  it('rejects bare numbers and junk', () => {
    for (const value of ['1700000000', '', 's', '1x', '-1s', '1s junk', null]) assert.equal(parseDuration(value), null, String(value));
  });
});
