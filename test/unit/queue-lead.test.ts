import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowedLead } from '../../src/queue/producer.js';

describe('allowedLead', () => {
  it('without maxQueued, no limit', () => {
    assert.equal(allowedLead({}, 0), Infinity);
    assert.equal(allowedLead({ rampFrom: 100 }, 0), Infinity);
  });
  it('without rampFrom, maxQueued from the first job', () => {
    assert.equal(allowedLead({ maxQueued: 4000 }, 0), 4000);
    assert.equal(allowedLead({ maxQueued: 4000 }, 10_000), 4000);
  });
  it('with rampFrom, starts there and follows the jobs taken up to maxQueued', () => {
    const opts = { maxQueued: 4000, rampFrom: 250 };
    assert.equal(allowedLead(opts, 0), 250);
    // A resumed run: more waiting than this producer added, so "taken" is negative.
    assert.equal(allowedLead(opts, -500), 250);
    assert.equal(allowedLead(opts, 249), 250);
    assert.equal(allowedLead(opts, 1800), 1800);
    assert.equal(allowedLead(opts, 4001), 4000);
    assert.equal(allowedLead({ maxQueued: 100, rampFrom: 250 }, 0), 100);
  });
});
