import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costNanos } from '../../src/cost/compute.js';
import { callsPerItem, EstimateAccumulator, rangeFor } from '../../src/cost/run-estimate.js';
import { parsePriceFile } from '../../src/cost/prices.js';

describe('estimate: samples and re-asks', () => {
  const price = parsePriceFile({ models: { m: { input: 2, output: 8 } } }, 't').get('m')!;

  it('an item makes one call per sample, and up to (1 + invalid_output_retries) per sample with re-asks', () => {
    assert.deepEqual(callsPerItem(undefined), { calls: 1, maxCalls: 1 });
    assert.deepEqual(callsPerItem({ samples: 3, invalidRetries: 2 }), { calls: 3, maxCalls: 9 });
    assert.deepEqual(callsPerItem({ samples: 1, invalidRetries: 0 }), { calls: 1, maxCalls: 1 });
  });

  it('samples multiply the range; re-asks raise only its upper end', () => {
    const rangeOf = (samples: number, invalidRetries: number) => {
      const acc = new EstimateAccumulator();
      acc.addItem('m', { input: 1000, output: 200 }, true, callsPerItem({ samples, invalidRetries }));
      acc.addItem('m', { input: 3000, output: 200 }, true, callsPerItem({ samples, invalidRetries }));
      return rangeFor(acc.models.get('m')!, price)!;
    };
    const one = rangeOf(1, 0);
    const three = rangeOf(3, 0);
    assert.equal(three.lowNanos, costNanos({ input: 9000, cached: 0, output: 0 }, price).total);
    assert.equal(three.highNanos, costNanos({ input: 12_000, cached: 0, output: 1200 }, price).total);
    assert.equal(three.highNanos, 3 * one.highNanos);
    const reasks = rangeOf(3, 2);
    assert.equal(reasks.lowNanos, three.lowNanos, 're-asks may not happen');
    assert.equal(reasks.highNanos, 3 * three.highNanos, 'every sample asked three times at most');
  });

  it('with a probe: the low end counts one call per sample, the high end every re-ask', () => {
    const acc = new EstimateAccumulator();
    for (let i = 0; i < 10; i++) acc.addItem('m', { input: 10, output: 10 }, false, callsPerItem({ samples: 3, invalidRetries: 1 }));
    for (let i = 0; i < 4; i++) acc.addProbe('m', { input_tokens: 1, output_tokens: 1 }, 500);
    const r = rangeFor(acc.models.get('m')!, null)!;
    assert.equal(r.basis, 'probe');
    assert.equal(r.lowNanos, 30 * 500);
    assert.equal(r.highNanos, 60 * 500);
  });

  it('names each rejected item', () => {
    const acc = new EstimateAccumulator();
    acc.addRejected({ custom_id: 'a', source: 'in.csv:3', reason: 'in.csv:3: the id column "id" is empty' });
    assert.deepEqual(acc.rejected, [{ custom_id: 'a', source: 'in.csv:3', reason: 'in.csv:3: the id column "id" is empty' }]);
  });
});
