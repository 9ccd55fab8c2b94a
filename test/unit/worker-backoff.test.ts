import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelayMs } from '../../src/worker/backoff.js';

const opts = (r: number) => ({ baseMs: 1000, maxMs: 30_000, random: () => r });

describe('backoffDelayMs', () => {
  it('doubles per attempt, jittered within [50%, 100%]', () => {
    assert.equal(backoffDelayMs(1, opts(0)), 500);
    assert.equal(backoffDelayMs(1, opts(1)), 1000);
    assert.equal(backoffDelayMs(2, opts(0)), 1000);
    assert.equal(backoffDelayMs(2, opts(1)), 2000);
    assert.equal(backoffDelayMs(3, opts(0.5)), 3000);
  });

  it('stays within bounds for many random draws', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(30_000, 1000 * 2 ** (attempt - 1));
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(attempt, { baseMs: 1000, maxMs: 30_000 });
        assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d}`);
      }
    }
  });

  it('caps at maxMs, even for absurd attempt counts', () => {
    assert.equal(backoffDelayMs(10, opts(1)), 30_000);
    assert.equal(backoffDelayMs(5000, opts(1)), 30_000);
    assert.equal(backoffDelayMs(5000, opts(0)), 15_000);
  });

  it('treats attempt counts below 1 as 1', () => {
    assert.equal(backoffDelayMs(0, opts(1)), 1000);
    assert.equal(backoffDelayMs(-3, opts(1)), 1000);
  });

  it('never waits less than Retry-After, adding a small spread', () => {
    assert.equal(backoffDelayMs(1, opts(0), 7000), 7000);
    assert.equal(backoffDelayMs(1, opts(0.999), 7000), 7499);
    // Retry-After wins over the cap: waiting less than asked only earns another 429.
    assert.equal(backoffDelayMs(1, opts(0), 120_000), 120_000);
    assert.equal(backoffDelayMs(1, opts(0), 0.2), 1);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelayMs(4, { baseMs: 1000, maxMs: 30_000 }, 2500);
      assert.ok(d >= 2500 && d <= 3000, String(d));
    }
  });

  it('falls back to exponential backoff on a null or invalid hint', () => {
    assert.equal(backoffDelayMs(2, opts(1), null), 2000);
    assert.equal(backoffDelayMs(2, opts(1), Number.NaN), 2000);
    assert.equal(backoffDelayMs(2, opts(1), -5), 2000);
  });

  it('clamps a misbehaving random source', () => {
    assert.equal(backoffDelayMs(1, opts(7)), 1000);
    assert.equal(backoffDelayMs(1, opts(-1)), 500);
  });
});
