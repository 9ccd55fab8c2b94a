import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AT_LIMIT_SHARE, decideOn429, isAtLimit, RecentAnswers, SUSTAINED_429S, SUSTAINED_WINDOW_ANSWERS, SUSTAINED_WINDOW_MS, type BudgetUse } from '../../src/worker/limits/on-429.js';
import { saysNothingLeft } from '../../src/worker/retry-after.js';

const NO_LIMIT: BudgetUse = { recentRpm: 3000, recentTpm: 90_000, rpmLimit: null, tpmLimit: null };

describe('a 429: pause the key or only this call', () => {
  it('a sporadic 429 (no limit, no sign of one) makes only this call wait and teaches nothing', () => {
    assert.deepEqual(decideOn429({ saysExhausted: false, use: NO_LIMIT, sustained: false, learning: true }), { scope: 'call', reason: 'sporadic', cutLearnedRate: false });
  });

  it('a 429 that says nothing is left pauses the key', () => {
    const v = decideOn429({ saysExhausted: true, use: NO_LIMIT, sustained: false, learning: true });
    assert.equal(v.scope, 'key');
    assert.equal(v.reason, 'exhausted');
    assert.equal(v.cutLearnedRate, false, 'one 429 is no sustained limit');
  });

  it('a 429 while the rate is at the told or announced limit pauses the key', () => {
    const atRpm: BudgetUse = { recentRpm: 1170, recentTpm: 0, rpmLimit: 1200, tpmLimit: null };
    assert.deepEqual(decideOn429({ saysExhausted: false, use: atRpm, sustained: false, learning: false }), { scope: 'key', reason: 'at_limit', cutLearnedRate: false });
    const atTpm: BudgetUse = { recentRpm: 100, recentTpm: 1_080_000, rpmLimit: null, tpmLimit: 1_200_000 };
    assert.equal(decideOn429({ saysExhausted: false, use: atTpm, sustained: false, learning: true }).scope, 'key');
  });

  it('a 429 well below the told limit is sporadic', () => {
    const half: BudgetUse = { recentRpm: 600, recentTpm: 0, rpmLimit: 1200, tpmLimit: 1_000_000 };
    assert.equal(decideOn429({ saysExhausted: false, use: half, sustained: false, learning: false }).scope, 'call');
  });

  it('sustained 429s pause the key, and cut the learned rate only when learning', () => {
    assert.deepEqual(decideOn429({ saysExhausted: false, use: NO_LIMIT, sustained: true, learning: true }), { scope: 'key', reason: 'sustained', cutLearnedRate: true });
    assert.deepEqual(decideOn429({ saysExhausted: false, use: NO_LIMIT, sustained: true, learning: false }), { scope: 'key', reason: 'sustained', cutLearnedRate: false });
    assert.equal(decideOn429({ saysExhausted: true, use: NO_LIMIT, sustained: true, learning: true }).cutLearnedRate, true);
  });

  it('a 429 near the rate where sustained 429s met the limit before pauses the key and cuts the learned rate', () => {
    const use: BudgetUse = { recentRpm: 580, recentTpm: 0, rpmLimit: null, tpmLimit: null, learnedLimitRpm: 650 };
    assert.deepEqual(decideOn429({ saysExhausted: false, use, sustained: false, learning: true }), { scope: 'key', reason: 'at_limit', cutLearnedRate: true });
    const below: BudgetUse = { ...use, recentRpm: 300 };
    assert.deepEqual(decideOn429({ saysExhausted: false, use: below, sustained: false, learning: true }), { scope: 'call', reason: 'sporadic', cutLearnedRate: false });
  });

  it('"at the limit" is a share of the limit, on either limit', () => {
    assert.equal(isAtLimit({ recentRpm: AT_LIMIT_SHARE * 1000, recentTpm: 0, rpmLimit: 1000, tpmLimit: null }), true);
    assert.equal(isAtLimit({ recentRpm: AT_LIMIT_SHARE * 1000 - 1, recentTpm: 0, rpmLimit: 1000, tpmLimit: null }), false);
    assert.equal(isAtLimit({ recentRpm: 10, recentTpm: 0, rpmLimit: null, tpmLimit: null }), false);
  });
});

describe('sustained 429s: a share of this process\' recent answers', () => {
  it(`is sustained from ${SUSTAINED_429S} 429s among the last ${SUSTAINED_WINDOW_ANSWERS} answers`, () => {
    const a = new RecentAnswers();
    for (let i = 0; i < SUSTAINED_WINDOW_ANSWERS - SUSTAINED_429S; i++) a.record(false, 1000);
    for (let i = 0; i < SUSTAINED_429S - 1; i++) a.record(true, 1000);
    assert.equal(a.sustained(1000), false);
    a.record(true, 1000);
    assert.equal(a.sustained(1000), true);
  });

  it('a burst of 429s coming back together, below the count, is not sustained', () => {
    const a = new RecentAnswers();
    for (let i = 0; i < 50; i++) a.record(false, 0);
    for (let i = 0; i < SUSTAINED_429S - 1; i++) a.record(true, 1);
    assert.equal(a.sustained(1), false);
  });

  it('answers older than the window no longer count', () => {
    const a = new RecentAnswers();
    for (let i = 0; i < SUSTAINED_429S; i++) a.record(true, 0);
    assert.equal(a.sustained(SUSTAINED_WINDOW_MS), true);
    assert.equal(a.sustained(SUSTAINED_WINDOW_MS + 1), false);
  });

  it('only the last answers count: 429s pushed out by later successes no longer make it sustained', () => {
    const a = new RecentAnswers();
    for (let i = 0; i < SUSTAINED_429S; i++) a.record(true, 0);
    for (let i = 0; i < SUSTAINED_WINDOW_ANSWERS; i++) a.record(false, 0);
    assert.equal(a.sustained(0), false);
  });

  function sustainedShare(rate429: number, answers: number): number {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const a = new RecentAnswers();
    let sustainedSeen = 0;
    for (let i = 0; i < answers; i++) {
      const limited = random() < rate429;
      a.record(limited, i);
      if (limited && a.sustained(i)) sustainedSeen++;
    }
    return sustainedSeen / answers;
  }

  it('5 % of calls refused at random: never sustained over 100,000 answers (seeded)', () => {
    assert.equal(sustainedShare(0.05, 100_000), 0);
  });

  it('10 % refused at random: sustained after fewer than 1 answer in 20,000', () => {
    // 10 of 20: about 7 in a million per answer.
    assert.ok(sustainedShare(0.1, 200_000) < 1 / 20_000);
  });

  it('50 % refused: sustained often', () => {
    assert.ok(sustainedShare(0.5, 10_000) > 0.01);
  });

  it('at a limit (every call refused), sustained after the first few hundred ms of 429s', () => {
    const a = new RecentAnswers();
    for (let i = 0; i < 200; i++) a.record(false, i);
    let first = -1;
    for (let i = 0; i < 50 && first < 0; i++) {
      a.record(true, 200 + i);
      if (a.sustained(200 + i)) first = i + 1;
    }
    assert.equal(first, SUSTAINED_429S, 'the 10th 429 in a row');
  });
});

describe('"nothing left" headers', () => {
  it('remaining requests or tokens of 0 say the key is out of budget', () => {
    assert.equal(saysNothingLeft(new Headers({ 'x-ratelimit-remaining-requests': '0' })), true);
    assert.equal(saysNothingLeft(new Headers({ 'x-ratelimit-remaining-requests': '12', 'x-ratelimit-remaining-tokens': '0' })), true);
    assert.equal(saysNothingLeft(new Headers({ 'x-ratelimit-remaining-requests': '3' })), false);
    assert.equal(saysNothingLeft(new Headers({})), false);
    assert.equal(saysNothingLeft(new Headers({ 'x-ratelimit-remaining-requests': '' })), false);
  });
});
