import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costNanos } from '../../src/cost/compute.js';
import { EstimateAccumulator, rangeFor } from '../../src/cost/run-estimate.js';
import { parsePriceFile } from '../../src/cost/prices.js';
import { bucketRange, dimensionValue, parseBy, ReportAggregator, sortedGroups, tokenBucket } from '../../src/report/aggregate.js';
import { formatCsv, formatMarkdown, formatTable } from '../../src/report/formats.js';
import { formatHtml } from '../../src/report/html.js';

const line = (over: Record<string, unknown>) => ({
  custom_id: 'x',
  status: 'completed',
  model: 'm1',
  usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 40 }, output_tokens: 50, output_tokens_details: { reasoning_tokens: 10 }, total_tokens: 150 },
  run: 'r',
  finished_at: '2026-11-20T10:00:00.000Z',
  cost: { input: 0.1, cached_input: 0.05, output: 0.2, total: 0.35, currency: 'USD', source: 'price_table' },
  ...over,
});

describe('report aggregation', () => {
  it('parses --by: breakdowns, combinations, metadata keys', () => {
    assert.deepEqual(parseBy('model,day'), [['model'], ['day']]);
    assert.deepEqual(parseBy('model+day, dataset'), [['model', 'day'], ['metadata.dataset']]);
    assert.deepEqual(parseBy('metadata.team,meta.x'), [['metadata.team'], ['metadata.x']]);
    assert.throws(() => parseBy('model+'), /empty dimension/);
    assert.throws(() => parseBy('metadata.'), /names no metadata key/);
  });

  it('reads dimension values, with (none) for what a line lacks', () => {
    const l = line({ metadata: { dataset: 'reviews', n: 3 }, error: { type: 'timeout' } });
    assert.equal(dimensionValue(l, 'day'), '2026-11-20');
    assert.equal(dimensionValue(l, 'metadata.dataset'), 'reviews');
    assert.equal(dimensionValue(l, 'metadata.n'), '3');
    assert.equal(dimensionValue(l, 'metadata.missing'), '(none)');
    assert.equal(dimensionValue(l, 'error'), 'timeout');
    assert.equal(dimensionValue(line({ model: null, finished_at: 'garbage' }), 'model'), '(none)');
    assert.equal(dimensionValue(line({ finished_at: 'garbage' }), 'day'), '(none)');
  });

  it('sums per group in nano-dollars; unpriced and API-priced lines are counted', () => {
    const agg = new ReportAggregator(parseBy('model,model+status'));
    agg.add(line({}));
    agg.add(line({ model: 'm2', cost: { total: 1.000000001, source: 'api' } }));
    agg.add(line({ model: 'm2', cost: null }));
    agg.add(line({ status: 'rejected', model: null, usage: null, cost: null }));
    assert.equal(agg.total.lines, 4);
    assert.equal(agg.total.costNanos, 350_000_000 + 1_000_000_001);
    assert.equal(agg.total.unpriced, 1, 'the rejected line has no usage: not unpriced');
    assert.equal(agg.total.apiPriced, 1);
    assert.deepEqual(agg.total.tokens, { input: 300, cached: 120, output: 150, reasoning: 30 });
    assert.deepEqual(agg.total.byStatus, { completed: 3, rejected: 1 });
    const byModel = sortedGroups(agg.breakdowns[0]!);
    assert.deepEqual(byModel.map((g) => [g.key[0], g.stats.costNanos, g.stats.lines]), [['m2', 1_000_000_001, 2], ['m1', 350_000_000, 1], ['(none)', 0, 1]]);
    assert.equal(agg.breakdowns[1]!.groups.size, 3);
    assert.deepEqual(agg.statuses(), ['completed', 'rejected']);
  });

  it('puts tokens per line in power-of-two buckets', () => {
    assert.equal(tokenBucket(0), 0);
    assert.equal(tokenBucket(1), 1);
    assert.equal(tokenBucket(3), 2);
    assert.equal(tokenBucket(4), 3);
    assert.deepEqual(bucketRange(3), { from: 4, to: 8 });
    const agg = new ReportAggregator([]);
    agg.add(line({}));
    assert.equal(agg.tokenHistogram[tokenBucket(150)], 1);
  });

  it('keeps newer statuses (not known to this version) in its tables, after the known ones', () => {
    const agg = new ReportAggregator(parseBy('status'));
    agg.add(line({ status: 'invalid_output' }));
    agg.add(line({ status: 'completed' }));
    assert.deepEqual(agg.statuses(), ['completed', 'invalid_output']);
    assert.match(formatTable(agg, { files: ['f'] }), /invalid_output/);
    assert.match(formatCsv(agg).split('\n')[0]!, /,completed,invalid_output,/);
  });

  it('escapes user text in csv, markdown and html', () => {
    const agg = new ReportAggregator(parseBy('dataset'));
    agg.add(line({ metadata: { dataset: 'a,"b"|<script>' } }));
    assert.match(formatCsv(agg), /"a,""b""\|<script>"/);
    assert.match(formatMarkdown(agg, { files: ['f'] }), /a,"b"\\\|<script>/);
    const html = formatHtml(agg, { files: ['f'] });
    assert.doesNotMatch(html, /<script>"|\|<script>/);
    assert.match(html, /a,&quot;b&quot;\|&lt;script&gt;/);
  });
});

describe('estimate ranges', () => {
  const price = parsePriceFile({ models: { m: { input: 2, output: 8 } } }, 't').get('m')!;

  it('without a sample: from 3/4 of the input alone to input plus the output counted', () => {
    const acc = new EstimateAccumulator();
    acc.addItem('m', { input: 1000, output: 200 }, true);
    acc.addItem('m', { input: 3000, output: 200 }, true);
    const r = rangeFor(acc.models.get('m')!, price)!;
    assert.equal(r.basis, 'tokens');
    assert.equal(r.lowNanos, costNanos({ input: 3000, cached: 0, output: 0 }, price).total);
    assert.equal(r.highNanos, costNanos({ input: 4000, cached: 0, output: 400 }, price).total);
    assert.equal(rangeFor(acc.models.get('m')!, null), null, 'no price, no sample: unknown');
  });

  it('with a sample: items x mean cost, plus or minus two standard errors; failed calls are left out', () => {
    const acc = new EstimateAccumulator();
    for (let i = 0; i < 100; i++) acc.addItem('m', { input: 10, output: 10 }, false);
    for (const c of [1000, 2000, 3000]) acc.addProbe('m', { input_tokens: 1, output_tokens: 1 }, c);
    acc.addProbe('m', null, null);
    const m = acc.models.get('m')!;
    assert.equal(m.probe!.calls, 4);
    assert.equal(m.probe!.failed, 1);
    const r = rangeFor(m, null)!;
    // mean 2000, sd 1000, se 1000/sqrt(3)
    const half = (2 * 1000) / Math.sqrt(3);
    assert.equal(r.basis, 'probe');
    assert.equal(r.lowNanos, Math.round(100 * (2000 - half)));
    assert.equal(r.highNanos, Math.round(100 * (2000 + half)));
  });
});
