import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFaultOptions, createRng, decideFault, retryHeaders } from '../../src/fake-server/faults.js';
import type { FaultKind, FaultOptions } from '../../src/fake-server/types.js';

const never = (): number => {
  throw new Error('the PRNG must not be drawn');
};

function sequence(faults: FaultOptions, calls: number, seed = 1): Array<FaultKind | null> {
  const rng = createRng(seed);
  return Array.from({ length: calls }, () => decideFault(99, faults, rng));
}

test('no fault options means no faults and no PRNG draws', () => {
  assert.equal(decideFault(0, undefined, never), null);
  assert.equal(decideFault(0, {}, never), null);
  assert.equal(decideFault(0, { rate429: 0, rate500: 0 }, never), null);
});

test('failFirst cycles through the default kinds, then lets calls through', () => {
  const f: FaultOptions = { failFirst: 3 };
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => decideFault(i, f, never)), ['429', '500', '429', null, null]);
});

test('failFirst uses the given kinds in order', () => {
  const f: FaultOptions = { failFirst: 4, failKinds: ['reset', 'truncate', '503'] };
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => decideFault(i, f, never)), ['reset', 'truncate', '503', 'reset', null]);
});

test('failFirst wins over the random rates, which apply after it', () => {
  const f: FaultOptions = { failFirst: 1, failKinds: ['503'], rate500: 1 };
  assert.equal(decideFault(0, f, () => 0.5), '503');
  assert.equal(decideFault(1, f, () => 0.5), '500');
});

test('a rate of 1 always fires and the draw is split between kinds by cumulative rate', () => {
  assert.deepEqual(sequence({ rateTruncate: 1 }, 5), ['truncate', 'truncate', 'truncate', 'truncate', 'truncate']);
  const f: FaultOptions = { rate429: 0.25, rate500: 0.25, rateReset: 0.25, rateTruncate: 0.25 };
  assert.equal(decideFault(5, f, () => 0.1), '429');
  assert.equal(decideFault(5, f, () => 0.3), '500');
  assert.equal(decideFault(5, f, () => 0.6), 'reset');
  assert.equal(decideFault(5, f, () => 0.9), 'truncate');
  assert.equal(decideFault(5, { rate429: 0.5 }, () => 0.5), null);
});

test('the same seed gives the same fault sequence; another seed a different one', () => {
  const f: FaultOptions = { rate429: 0.3, rate500: 0.2 };
  const a = sequence(f, 200, 42);
  assert.deepEqual(sequence(f, 200, 42), a);
  assert.notDeepEqual(sequence(f, 200, 43), a);
  const faults = a.filter((k) => k !== null).length;
  assert.ok(faults > 50 && faults < 150, `about half of 200 calls should fail, got ${faults}`);
});

test('the PRNG is uniform-ish in [0, 1)', () => {
  const rng = createRng(7);
  const values = Array.from({ length: 1000 }, rng);
  assert.ok(values.every((v) => v >= 0 && v < 1));
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

test('retry headers only on 429 and 503, only as configured', () => {
  assert.deepEqual(retryHeaders(429, { retryAfterS: 2 }), { 'retry-after': '2' });
  assert.deepEqual(retryHeaders(503, { retryAfterS: 1, retryAfterMs: 250 }), { 'retry-after': '1', 'retry-after-ms': '250' });
  assert.deepEqual(retryHeaders(500, { retryAfterS: 2 }), {});
  assert.deepEqual(retryHeaders(429, {}), {});
  assert.deepEqual(retryHeaders(429, undefined), {});
});

test('exhausted429: injected 429s say no requests are left, other statuses do not', () => {
  assert.deepEqual(retryHeaders(429, { exhausted429: true, retryAfterS: 1 }), { 'retry-after': '1', 'x-ratelimit-remaining-requests': '0' });
  assert.deepEqual(retryHeaders(503, { exhausted429: true }), {});
  assert.throws(() => checkFaultOptions({ exhausted429: 'yes' as unknown as boolean }), /exhausted429/);
});

test('bad fault options are refused with the field named', () => {
  assert.throws(() => checkFaultOptions({ rate429: 1.5 }), /rate429/);
  assert.throws(() => checkFaultOptions({ rate500: -0.1 }), /rate500/);
  assert.throws(() => checkFaultOptions({ rate429: 0.6, rate500: 0.6 }), /add up/);
  assert.throws(() => checkFaultOptions({ failFirst: 1.5 }), /failFirst/);
  assert.throws(() => checkFaultOptions({ failKinds: ['418' as FaultKind] }), /failKinds/);
  assert.throws(() => checkFaultOptions({ seed: 0.5 }), /seed/);
  assert.doesNotThrow(() => checkFaultOptions({ rate429: 0.5, rate500: 0.5, failFirst: 2, failKinds: ['reset'], retryAfterS: 0 }));
});
