import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { etaSeconds, formatDuration, recentRate } from '../../src/report/rate.js';

describe('recentRate', () => {
  const now = 1_000_000;
  it('is null without samples or with only a sample too recent to divide by', () => {
    assert.equal(recentRate([], 10, now), null);
    assert.equal(recentRate([{ t: now - 500, written: 5 }], 10, now), null);
  });
  it('measures from the newest sample older than the window', () => {
    const samples = [
      { t: now - 120_000, written: 0 },
      { t: now - 60_000, written: 100 },
      { t: now - 30_000, written: 400 },
      { t: now - 1_000, written: 690 },
    ];
    // From (now - 60 s, 100) to (now, 700): 600 lines in 60 s.
    assert.equal(recentRate(samples, 700, now), 10);
  });
  it('uses the oldest sample when the run is younger than the window', () => {
    assert.equal(recentRate([{ t: now - 10_000, written: 0 }, { t: now - 5_000, written: 30 }], 50, now), 5);
  });
  it('falls towards 0 when nothing is written any more', () => {
    const samples = [{ t: now - 200_000, written: 0 }, { t: now - 100_000, written: 1000 }];
    assert.equal(recentRate(samples, 1000, now), 0);
  });
  it('is never negative (retry lowers the written count)', () => {
    assert.equal(recentRate([{ t: now - 10_000, written: 50 }], 40, now), 0);
  });
});

describe('etaSeconds and formatDuration', () => {
  it('ETA is 0 when nothing remains, unknown without a rate, else remaining / rate', () => {
    assert.equal(etaSeconds(0, null), 0);
    assert.equal(etaSeconds(10, null), null);
    assert.equal(etaSeconds(10, 0), null);
    assert.equal(etaSeconds(100, 4), 25);
  });
  it('formats seconds for the table', () => {
    assert.equal(formatDuration(null), '-');
    assert.equal(formatDuration(42.4), '42s');
    assert.equal(formatDuration(75), '1m15s');
    assert.equal(formatDuration(3900), '1h05m');
    assert.equal(formatDuration(90_000), '1d01h');
  });
});
