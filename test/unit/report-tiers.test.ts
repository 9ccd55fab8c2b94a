import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineTier, parseBy, ReportAggregator, sortedGroups } from '../../src/report/aggregate.js';
import { formatCsv, formatTable, reportJson } from '../../src/report/formats.js';
import { formatHtml } from '../../src/report/html.js';

const usage = { input_tokens: 100, output_tokens: 50, total_tokens: 150 };
const line = (cost: Record<string, unknown> | null, over: Record<string, unknown> = {}) => ({
  custom_id: 'x',
  status: 'completed',
  model: 'm1',
  usage,
  run: 'r',
  finished_at: '2026-11-20T10:00:00.000Z',
  cost: cost && { currency: 'USD', source: 'price_table', ...cost },
  ...over,
});

function mixed(): ReportAggregator {
  const agg = new ReportAggregator(parseBy('tier'));
  agg.add(line({ total: 0.4, tier: 'standard' }));
  agg.add(line({ total: 0.2 })); // written before tiers were priced: standard
  agg.add(line({ total: 0.1, tier: 'batch', standard_total: 0.2 }));
  agg.add(line({ total: 0.1, tier: 'batch', standard_total: 0.2 }));
  agg.add(line({ total: 0.3, tier: 'flex', standard_total: 0.3, no_tier_price: true }, { model: 'm2' }));
  agg.add(line({ total: 0.35, tier: 'priority', standard_total: 0.2 }));
  agg.add(line(null, { status: 'rejected', usage: null }));
  return agg;
}

describe('report by tier', () => {
  it('names the tier of a line: its cost tier, else its service_tier, else standard when billed, else none', () => {
    assert.equal(lineTier(line({ total: 1, tier: 'flex' })), 'flex');
    assert.equal(lineTier(line(null, { service_tier: 'default' })), 'standard');
    assert.equal(lineTier(line(null, { service_tier: 'flex' })), 'flex');
    assert.equal(lineTier(line({ total: 1 })), 'standard');
    assert.equal(lineTier(line(null, { usage: null })), null);
  });

  it('groups by tier and adds what each saved against the standard price', () => {
    const agg = mixed();
    const groups = Object.fromEntries(sortedGroups(agg.breakdowns[0]!).map((g) => [g.key[0], g.stats]));
    assert.deepEqual(Object.keys(groups).sort(), ['(none)', 'batch', 'flex', 'priority', 'standard']);
    assert.equal(groups['standard']!.costNanos, 600_000_000);
    assert.equal(groups['standard']!.standardNanos, 600_000_000);
    assert.equal(groups['batch']!.costNanos, 200_000_000);
    assert.equal(groups['batch']!.standardNanos, 400_000_000);
    assert.equal(groups['flex']!.noTierPrice, 1);
    assert.equal(groups['priority']!.standardNanos - groups['priority']!.costNanos, -150_000_000, 'priority costs more');
    assert.equal(agg.total.costNanos, 1_450_000_000);
    assert.equal(agg.total.standardNanos, 1_500_000_000);
  });

  it('every format shows the saving; tables get the standard cost and saving columns when tiers are mixed', () => {
    const agg = mixed();
    const table = formatTable(agg, { files: ['a.jsonl'] });
    assert.match(table, /^7 lines in 1 file, cost \$1\.45\nSaved \$0\.05 \(3%\) against the standard price of \$1\.50\n/);
    assert.match(table, /standard_cost_usd\s+saved_usd\s+no_tier_price_lines/);
    assert.match(table, /no tier price.*m2 at flex \(1 line\)/);
    const csv = formatCsv(agg).split('\n');
    assert.match(csv[0]!, /,cost_usd,standard_cost_usd,saved_usd,no_tier_price_lines$/);
    assert.match(csv.find((r) => r.startsWith('tier,batch,'))!, /,0\.2,0\.4,0\.2,0$/);
    const json = reportJson(agg, { files: ['a.jsonl'] });
    assert.equal(json.total.saved_nanos, 50_000_000);
    assert.deepEqual(json.no_tier_price, [{ tier: 'flex', model: 'm2', lines: 1 }]);
    const html = formatHtml(agg, { files: ['a.jsonl'] });
    assert.match(html, /id="cost-per-tier"/);
    assert.match(html, /Saved vs standard<\/span><b>\$0\.05 \(3%\)/);
    assert.doesNotMatch(html, /NaN|Infinity/);
  });

  it('a report of standard lines only says it saved nothing and keeps its columns', () => {
    const agg = new ReportAggregator(parseBy('model'));
    agg.add(line({ total: 0.4, tier: 'standard' }));
    const table = formatTable(agg, { files: ['a.jsonl'] });
    assert.match(table, /Saved \$0\.00 \(0%\) against the standard price of \$0\.40/);
    assert.doesNotMatch(table, /saved_usd/);
  });
});
