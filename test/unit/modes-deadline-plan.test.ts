import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadlineOutOfReach, onlineRate, planTier, type PlanInput } from '../../src/batch/deadline-plan.js';
import { effectiveMode } from '../../src/batch/mode.js';

const NOW = 1_000_000;
const base: PlanInput = {
  now: NOW,
  deadlineAt: NOW + 3_600_000,
  margin: 0.2,
  itemsLeft: 1000,
  current: 'batch',
  measuredRate: null,
  limits: { concurrency: 4 },
  reactionMs: 12_000,
};

describe('auto: the deadline planner', () => {
  it('the online pace: measured first, else the rpm, else the calls at once', () => {
    assert.equal(onlineRate(7, { rpm: 60, concurrency: 4 }), 7);
    assert.equal(onlineRate(null, { rpm: 60, concurrency: 4 }), 1);
    assert.equal(onlineRate(null, { rpm: 6000, concurrency: 4 }), 4, 'the calls at once bound a high rpm');
    assert.equal(onlineRate(null, { concurrency: 16 }), 16);
  });

  it('stays at the batch tier while flex could still finish within the time left less the margin', () => {
    // 1000 items at 4/s: 250 s online, 500 s by flex; an hour left.
    assert.equal(planTier(base).mode, 'batch');
  });

  it('switches to flex once flex only fits by eating into the margin', () => {
    // 600 s left: usable 600 x 0.8 - 12 = 468 s < 500 s of flex, but 500 s <= 588 s.
    const d = planTier({ ...base, deadlineAt: NOW + 600_000 });
    assert.equal(d.mode, 'flex');
    assert.match(d.reason, /1000 items left/);
  });

  it('goes straight to the standard tier when flex no longer fits at all', () => {
    assert.equal(planTier({ ...base, deadlineAt: NOW + 400_000 }).mode, 'online');
  });

  it('flex gives way to the standard tier when the measured pace falls behind; nothing goes back to a cheaper tier', () => {
    assert.equal(planTier({ ...base, current: 'flex', deadlineAt: NOW + 600_000 }).mode, 'flex');
    assert.equal(planTier({ ...base, current: 'flex', deadlineAt: NOW + 600_000, measuredRate: 1 }).mode, 'online');
    assert.equal(planTier({ ...base, current: 'online', deadlineAt: NOW + 86_400_000 }).mode, 'online');
    assert.equal(planTier({ ...base, current: 'flex', deadlineAt: NOW + 86_400_000 }).mode, 'flex');
  });

  it('a larger margin switches earlier', () => {
    const at = { ...base, deadlineAt: NOW + 800_000 };
    assert.equal(planTier({ ...at, margin: 0.2 }).mode, 'batch');
    assert.equal(planTier({ ...at, margin: 0.5 }).mode, 'flex');
  });

  it('a deadline even the standard tier cannot make is out of reach; one it can is not', () => {
    assert.equal(deadlineOutOfReach({ ...base, deadlineAt: NOW + 100_000 }).outOfReach, true);
    assert.equal(deadlineOutOfReach({ ...base, deadlineAt: NOW + 300_000 }).outOfReach, false);
  });
});

describe('the tier a run goes by now', () => {
  it('online, flex and batch runs keep theirs; auto starts at batch and follows its recorded switch', () => {
    assert.equal(effectiveMode({ mode: undefined }, null), 'online');
    assert.equal(effectiveMode({ mode: 'online' }, 'batch'), 'online');
    assert.equal(effectiveMode({ mode: 'flex' }, null), 'flex');
    assert.equal(effectiveMode({ mode: 'batch' }, 'online'), 'batch');
    assert.equal(effectiveMode({ mode: 'auto' }, null), 'batch');
    assert.equal(effectiveMode({ mode: 'auto' }, 'flex'), 'flex');
    assert.equal(effectiveMode({ mode: 'auto' }, 'online'), 'online');
    assert.equal(effectiveMode({ mode: 'auto' }, 'nonsense'), 'batch');
  });
});
