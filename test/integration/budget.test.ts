import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Budget, budgetId } from '../../src/worker/limits/budget.js';
import { exhaustedForMs } from '../../src/worker/limits/rate-limiter.js';
import { REDIS_URL, testPrefix } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

describe('shared budget (real Redis)', () => {
  const redis = new Redis(REDIS_URL);
  const prefix = testPrefix();
  after(async () => {
    await deletePrefix(prefix);
    redis.disconnect();
  });

  it('admits one call of a burst at a time: the rest are told how long to wait', async () => {
    const b = new Budget(redis, 'burst', { tpm: 600_000 }, false, prefix);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => b.acquire(1000, `l${i}`)));
    assert.equal(results.filter((r) => r.granted).length, 1);
    for (const r of results) if (!r.granted) assert.ok(r.waitMs >= 1 && r.reason === 'tpm');
  });

  it('a wait shorter than a millisecond is still a wait, never a grant', async () => {
    // 6,000,000 rpm: 0.01 ms between calls, so most refusals are for a fraction of a millisecond.
    const b = new Budget(redis, 'fine', { rpm: 6_000_000 }, false, prefix);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => b.acquire(1, `f${i}`)));
    const granted = results.filter((r) => r.granted).length;
    const snapshot = await b.snapshot();
    assert.equal(snapshot.requests, granted, 'every grant was counted by the budget itself');
  });

  it('two processes (connections) share one budget', async () => {
    const other = new Redis(REDIS_URL);
    try {
      const id = budgetId('http://api', 'key', 'model');
      const a = new Budget(redis, id, { rpm: 60 }, false, prefix);
      const b = new Budget(other, id, { rpm: 60 }, false, prefix);
      assert.equal((await a.acquire(1, 'a1')).granted, true);
      const r = await b.acquire(1, 'b1');
      assert.equal(r.granted, false, 'the second connection sees the first call');
      assert.ok(!r.granted && r.waitMs > 900 && r.waitMs <= 1050, `wait ${JSON.stringify(r)}`);
    } finally {
      other.disconnect();
    }
  });

  it('a 429 pauses the budget for everyone until the given time', async () => {
    const b = new Budget(redis, 'pause', { rpm: 1_000_000 }, false, prefix);
    await b.limited('x', 5_000, { count429: true, cut: false });
    const r = await b.acquire(1, 'p1');
    assert.ok(!r.granted && r.reason === 'paused' && r.waitMs > 4000);
    assert.equal((await b.snapshot()).rateLimited, 1);
  });

  it('the key never reaches Redis: budgets are named by a hash', () => {
    const id = budgetId('https://api.example/v1', 'sk-secret-value', 'm');
    assert.ok(!id.includes('sk-secret'));
    assert.notEqual(id, budgetId('https://api.example/v1', 'sk-other-value', 'm'));
  });

  it('"nothing left" headers become a pause until the reset', () => {
    assert.equal(exhaustedForMs(new Headers({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s' })), 1500);
    assert.equal(exhaustedForMs(new Headers({ 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '1.5s' })), null);
    assert.equal(exhaustedForMs(new Headers({})), null);
  });
});
