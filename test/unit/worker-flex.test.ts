import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { createRng, flexRefuses } from '../../src/fake-server/faults.js';
import { settingsFromConfig } from '../../src/queue/run-meta.js';
import { flexNextStep, flexTimeIsUp } from '../../src/worker/flex.js';
import { asksForFlex, atDefaultTier, callTimeoutMs, prepareCall } from '../../src/worker/prepare-call.js';

const fallback = { fallbackMs: 10_000, backoff: { baseMs: 1000, maxMs: 4000 } };

describe('flexNextStep', () => {
  it('waits with a doubling backoff up to the cap', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => flexNextStep(0, 0, n, fallback, null)), [1000, 2000, 4000, 4000, 4000].map((waitMs) => ({ fallBack: false, waitMs })));
  });

  it("takes the server's Retry-After over the backoff", () => {
    assert.deepEqual(flexNextStep(0, 0, 1, fallback, 250), { fallBack: false, waitMs: 250 });
  });

  it('never waits past the fallback, and falls back once the time since the first refusal is up', () => {
    assert.deepEqual(flexNextStep(9_500, 0, 4, fallback, null), { fallBack: false, waitMs: 500 });
    assert.deepEqual(flexNextStep(10_000, 0, 5, fallback, null), { fallBack: true });
    assert.deepEqual(flexNextStep(5_000, 0, 1, { ...fallback, fallbackMs: 0 }, null), { fallBack: true });
  });

  it('flexTimeIsUp: only for an item refused before, long enough ago', () => {
    assert.equal(flexTimeIsUp(20_000, null, 10_000), false);
    assert.equal(flexTimeIsUp(20_000, 15_000, 10_000), false);
    assert.equal(flexTimeIsUp(25_000, 15_000, 10_000), true);
  });
});

describe('flex requests', () => {
  const settings = (values: Record<string, unknown>) => settingsFromConfig(resolveConfig([{ origin: 'job.yaml', values: { inputs: ['in.csv'], model: 'm', name: 'r', ...values } }]));

  it('mode flex asks for the flex tier, on batch request lines too; online asks for none', async () => {
    const flex = await prepareCall({ kind: 'prompt', text: 'x', images: [] }, settings({ mode: 'flex' }));
    assert.equal(flex.body.service_tier, 'flex');
    assert.ok(asksForFlex(flex.body));
    assert.equal((await prepareCall({ kind: 'body', body: { input: 'x' } }, settings({ mode: 'flex' }))).body.service_tier, 'flex');
    assert.equal((await prepareCall({ kind: 'prompt', text: 'x', images: [] }, settings({}))).body.service_tier, undefined);
  });

  it('the fallback body is the same request at the default tier', () => {
    const body = { model: 'm', input: 'x', service_tier: 'flex' };
    assert.deepEqual(atDefaultTier(body), { model: 'm', input: 'x', service_tier: 'default' });
    assert.equal(body.service_tier, 'flex', 'the prepared body is left as it was');
  });

  it('flex calls use flex_timeout_ms', () => {
    assert.equal(callTimeoutMs(settings({ mode: 'flex', flex_timeout_ms: 120_000, timeout_ms: 5000 })), 120_000);
    assert.equal(callTimeoutMs(settings({ timeout_ms: 5000, flex_timeout_ms: 120_000 })), 5000);
  });

  it('the fake server refuses only flex requests, at the configured rate', () => {
    const rng = createRng(1);
    assert.equal(flexRefuses({ service_tier: 'default' }, { flexUnavailable: 1 }, rng), false);
    assert.equal(flexRefuses({ service_tier: 'flex' }, { flexUnavailable: 1 }, rng), true);
    assert.equal(flexRefuses({ service_tier: 'flex' }, {}, rng), false);
  });
});
