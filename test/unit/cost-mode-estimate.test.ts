import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EstimateAccumulator, type ModelEstimate } from '../../src/cost/run-estimate.js';
import { BATCH_WINDOW_MS, formatDuration, judgeDeadline, modeCosts, onlineTime } from '../../src/cost/mode-estimate.js';
import { modeLines, modesFor } from '../../src/cost/mode-report.js';
import { findPrice, parsePriceFile } from '../../src/cost/prices.js';

const table = parsePriceFile(
  {
    models: {
      tiered: { input: 2, output: 8, batch: { input: 1, output: 4 }, flex: { input: 1, output: 4 } },
      batchonly: { input: 2, output: 8, batch: { input: 1, output: 4 } },
    },
  },
  't',
);
const priceOf = (m: string) => findPrice(table, m);

function models(spec: Array<[string, number]>): ModelEstimate[] {
  const acc = new EstimateAccumulator();
  for (const [model, items] of spec) for (let i = 0; i < items; i++) acc.addItem(model, { input: 1000, output: 200 }, true);
  return [...acc.models.values()];
}

const NOW = Date.parse('2026-12-04T20:00:00Z');

describe('online time', () => {
  it('the slowest of rpm, tpm (per model) and the calls in flight bounds it', () => {
    const ms = models([['tiered', 600]]);
    const noLimits = onlineTime(ms, { concurrency: 10, callSeconds: 5, limitsOf: () => ({}) });
    assert.deepEqual(noLimits, { seconds: 300, boundBy: 'concurrency' });
    assert.deepEqual(onlineTime(ms, { concurrency: 10, callSeconds: 5, limitsOf: () => ({ rpm: 60 }) }), { seconds: 600, boundBy: 'rpm of tiered' });
    // 600 calls of 1,200 tokens at 36,000 tokens a minute: 20 minutes.
    assert.deepEqual(onlineTime(ms, { concurrency: 10, callSeconds: 5, limitsOf: () => ({ rpm: 60, tpm: 36_000 }) }), { seconds: 1200, boundBy: 'tpm of tiered' });
  });
});

describe('deadline verdict', () => {
  const online = { seconds: 3600, boundBy: 'rpm of tiered' };

  it('reachable when the online time fits in the time left less the margin, with the latest switch', () => {
    const v = judgeDeadline(online, NOW + 2 * 3_600_000, NOW, 0.2);
    assert.equal(v.reachable, true);
    assert.equal(v.batchWindowFits, false);
    // 1 h online needs 1.25 h with a 20 % margin: switch by 0.75 h from now.
    assert.equal(v.latestSwitchMs, NOW + 0.75 * 3_600_000);
  });

  it('not reachable when even starting online now would miss it', () => {
    const v = judgeDeadline(online, NOW + 70 * 60_000, NOW, 0.2);
    assert.equal(v.reachable, false);
    assert.equal(v.latestSwitchMs, null);
    assert.equal(judgeDeadline(online, NOW - 1000, NOW, 0).reachable, false, 'a deadline already past');
  });

  it('a deadline beyond the batch window leaves auto as batch', () => {
    assert.equal(judgeDeadline(online, NOW + BATCH_WINDOW_MS + 1, NOW, 0.2).batchWindowFits, true);
  });
});

describe('cost per mode', () => {
  it('online at standard, flex and batch at their prices, auto at batch without a short deadline', () => {
    const costs = Object.fromEntries(modeCosts(models([['tiered', 10]]), priceOf, null).map((c) => [c.mode, c]));
    assert.ok(costs['online']!.range!.highNanos > 0);
    assert.equal(costs['batch']!.range!.highNanos * 2, costs['online']!.range!.highNanos);
    assert.equal(costs['flex']!.range!.highNanos * 2, costs['online']!.range!.highNanos);
    assert.deepEqual(costs['auto']!.range, costs['batch']!.range);
  });

  it('with a short deadline, auto spans batch to standard; a model without a tier price is named', () => {
    const ms = models([['batchonly', 10]]);
    const short = judgeDeadline({ seconds: 60, boundBy: 'concurrency' }, NOW + 3_600_000, NOW, 0.2);
    const costs = Object.fromEntries(modeCosts(ms, priceOf, short).map((c) => [c.mode, c]));
    assert.equal(costs['auto']!.range!.lowNanos, costs['batch']!.range!.lowNanos);
    assert.equal(costs['auto']!.range!.highNanos, costs['online']!.range!.highNanos);
    assert.deepEqual(costs['flex']!.noTierPrice, ['batchonly']);
    assert.deepEqual(costs['flex']!.range, costs['online']!.range, 'no flex price: the standard price');
    assert.deepEqual(costs['batch']!.noTierPrice, []);
    assert.deepEqual(modeCosts(models([['mystery', 3]]), priceOf, null)[0]!.unpriced, ['mystery']);
  });

  it('estimate prints the modes side by side and says when the deadline cannot be met', () => {
    const config = { mode: 'auto' as const, deadline: '30m', deadline_margin: 0.2, concurrency: 16, rpm: 10, limits: {} };
    const e = modesFor(models([['tiered', 600]]), priceOf, config, NOW);
    assert.equal(e.online.boundBy, 'rpm of tiered');
    assert.equal(e.deadline!.reachable, false);
    const text = modeLines(e).join('\n');
    assert.match(text, /auto \*/);
    assert.match(text, /Deadline 2026-12-04T20:30:00Z \(in 30m\): NOT reachable: the items need 1h00m online \(bound by rpm of tiered\)/);
    const ok = modeLines(modesFor(models([['tiered', 600]]), priceOf, { ...config, deadline: '3h' }, NOW)).join('\n');
    assert.match(ok, /reachable: 1h00m online .*moves what is left online by 2026-12-04T21:45:00Z at the latest/);
    assert.match(modeLines(modesFor(models([['tiered', 1]]), priceOf, { ...config, deadline: undefined }, NOW)).join('\n'), /batch with a 24 h window/);
  });

  it('formats durations', () => {
    assert.equal(formatDuration(30), '30s');
    assert.equal(formatDuration(45 * 60), '45m');
    assert.equal(formatDuration(2 * 3600 + 5 * 60), '2h05m');
  });
});
