import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatUsd, lineCost, usdToNanos } from '../../src/cost/compute.js';
import { bundledPrices } from '../../src/cost/load-prices.js';
import { Pricer } from '../../src/cost/pricer.js';
import { findPrice, parsePriceFile, PRICED_TIERS, tableToJson } from '../../src/cost/prices.js';
import { ratesFor, tierName } from '../../src/cost/tiers.js';

const table = parsePriceFile(
  {
    models: {
      tiered: {
        input: 2,
        cached_input: 1,
        output: 8,
        as_of: '2025-08-01',
        source: 'https://example.com/standard',
        batch: { input: 1, cached_input: 0.5, output: 4, as_of: '2025-08-02', source: 'https://example.com/batch' },
        flex: { input: 1, output: 4 },
        priority: { input: 3.5, cached_input: 0.875, output: 14 },
      },
      plain: { input: 2, output: 8 },
    },
  },
  'test',
);
const usage = (input: number, cached: number, output: number, extra: Record<string, unknown> = {}) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: cached },
  output_tokens: output,
  total_tokens: input + output,
  ...extra,
});

describe('tier names', () => {
  it('default, auto and nothing are the standard tier; other names are kept, lower-cased', () => {
    for (const t of [undefined, null, '', 'default', 'auto', 'DEFAULT', 42]) assert.equal(tierName(t), 'standard', String(t));
    assert.equal(tierName('flex'), 'flex');
    assert.equal(tierName('Batch'), 'batch');
    assert.equal(tierName('priority'), 'priority');
    assert.equal(tierName('scale'), 'scale');
  });
});

describe('tier prices in a price file', () => {
  it('reads each tier with its own rates, date and source; a tier without cached_input bills cached as input', () => {
    const p = findPrice(table, 'tiered')!;
    assert.equal(p.input, 2_000_000);
    assert.deepEqual(p.tiers.batch, { input: 1_000_000, cachedInput: 500_000, output: 4_000_000, asOf: '2025-08-02', source: 'https://example.com/batch' });
    assert.deepEqual(p.tiers.flex, { input: 1_000_000, cachedInput: 1_000_000, output: 4_000_000, asOf: null, source: null });
    assert.equal(p.tiers.priority?.output, 14_000_000);
    assert.deepEqual(findPrice(table, 'plain')!.tiers, {}, 'a file without tiers still reads');
  });

  it('names the file, the tier and the field of a bad tier price', () => {
    assert.throws(() => parsePriceFile({ models: { m: { input: 1, output: 1, batch: { input: 1 } } } }, 'mine.json'), /mine\.json: models\.m\.batch\.output/);
    assert.throws(() => parsePriceFile({ models: { m: { input: 1, output: 1, flex: { input: -1, output: 1 } } } }, 'x'), /models\.m\.flex\.input/);
    assert.throws(() => parsePriceFile({ models: { m: { input: 1, output: 1, flex: 0.5 } } }, 'x'), /models\.m\.flex: must be an object/);
    assert.throws(() => parsePriceFile({ models: { m: { input: 1, output: 1, batch: { input: 1, output: 1, aliases: ['x'] } } } }, 'x'), /models\.m\.batch: unknown field "aliases"/);
    assert.throws(() => parsePriceFile({ models: { m: { input: 1, output: 1, scale: { input: 1, output: 1 } } } }, 'x'), /unknown field "scale"/);
  });

  it('tier prices survive the trip through JSON (run settings in Redis)', () => {
    const again = parsePriceFile(JSON.parse(JSON.stringify(tableToJson(table))), 'again');
    assert.deepEqual(findPrice(again, 'tiered'), findPrice(table, 'tiered'));
    assert.deepEqual(findPrice(again, 'plain'), findPrice(table, 'plain'));
  });

  it('a missing tier price falls back to the standard rates, and says so', () => {
    const plain = findPrice(table, 'plain')!;
    assert.equal(ratesFor(plain, 'batch').tierPriced, false);
    assert.equal(ratesFor(plain, 'batch').rates.input, plain.input);
    assert.equal(ratesFor(findPrice(table, 'tiered')!, 'scale').tierPriced, false, 'a tier respool has no column for');
    assert.equal(ratesFor(findPrice(table, 'tiered')!, 'standard').tierPriced, true);
  });
});

describe('line cost per tier', () => {
  const tiered = findPrice(table, 'tiered')!;

  it('prices a line at the tier that served it and records the tier and the standard total', () => {
    // 1,000 input (400 cached), 500 output at batch: 600 * 1 + 400 * 0.5 + 500 * 4 per 1M = 0.0028; standard 0.0056.
    const c = lineCost(usage(1000, 400, 500), tiered, 'batch')!;
    assert.equal(c.total, 0.0028);
    assert.equal(c.tier, 'batch');
    assert.equal(c.standard_total, 0.0056);
    assert.equal(c.no_tier_price, undefined);
    const p = lineCost(usage(1000, 400, 500), tiered, 'priority')!;
    assert.equal(p.total, 0.00945);
    assert.equal(p.standard_total, 0.0056, 'priority costs more than standard: a negative saving');
  });

  it('a standard line records its tier and no standard_total (it is its own total)', () => {
    const c = lineCost(usage(1000, 400, 500), tiered, 'default')!;
    assert.deepEqual(c, { input: 0.0012, cached_input: 0.0004, output: 0.004, total: 0.0056, currency: 'USD', source: 'price_table', tier: 'standard' });
    assert.deepEqual(lineCost(usage(1000, 400, 500), tiered), c, 'no service_tier: standard');
  });

  it('without a price for the tier: the standard price, marked no_tier_price', () => {
    const c = lineCost(usage(1000, 0, 500), findPrice(table, 'plain'), 'flex')!;
    assert.equal(c.total, 0.006);
    assert.equal(c.tier, 'flex');
    assert.equal(c.no_tier_price, true);
    assert.equal(c.standard_total, 0.006);
  });

  it('a cost the API reported wins; the standard total is still recorded for a non-standard tier', () => {
    const c = lineCost(usage(1000, 0, 500, { cost: 0.001 }), tiered, 'flex')!;
    assert.equal(c.source, 'api');
    assert.equal(c.total, 0.001);
    assert.equal(c.tier, 'flex');
    assert.equal(c.standard_total, 0.006);
    assert.equal(lineCost(usage(1, 0, 1, { cost: 0.5 }), null, 'flex')?.standard_total, undefined, 'no price: nothing to compare with');
  });

  it('the pricer warns once per model and tier without a price, and settles calls at the served tier', () => {
    const warnings: string[] = [];
    const pricer = new Pricer(table, (m) => warnings.push(m));
    pricer.costOf('plain', usage(10, 0, 10), 'flex');
    pricer.costOf('plain', usage(10, 0, 10), 'flex');
    pricer.costOf('plain', usage(10, 0, 10), 'batch');
    pricer.costOf('tiered', usage(10, 0, 10), 'batch');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /no flex price for model "plain"/);
    assert.equal(pricer.actualCallNanos('tiered', usage(1000, 0, 500), 'flex'), usdToNanos(0.003));
    assert.equal(pricer.actualCallNanos('tiered', usage(1000, 0, 500)), usdToNanos(0.006));
    const body = { model: 'tiered', input: 'x'.repeat(300), max_output_tokens: 100 };
    assert.equal(pricer.estimateCallNanos('tiered', body, undefined, 'batch')! * 2, pricer.estimateCallNanos('tiered', body)!);
  });
});

describe('the bundled tier prices', () => {
  it('every tier price has a date and a source; batch and flex cost half of standard at most', async () => {
    const bundled = await bundledPrices();
    let tiers = 0;
    for (const [name, p] of bundled) {
      for (const tier of PRICED_TIERS) {
        const t = p.tiers[tier];
        if (!t) continue;
        tiers++;
        assert.match(t.asOf ?? '', /^\d{4}-\d{2}-\d{2}$/, `${name} ${tier}`);
        assert.match(t.source ?? '', /^https:\/\//, `${name} ${tier}`);
        assert.ok(t.output >= t.input && t.input >= t.cachedInput, `${name} ${tier}`);
        if (tier === 'priority') assert.ok(t.input > p.input && t.output > p.output, `${name} priority costs more`);
        else assert.ok(t.input * 2 <= p.input && t.output * 2 <= p.output, `${name} ${tier} at most half`);
      }
    }
    assert.ok(tiers >= 12);
    for (const m of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini', 'o3', 'gpt-5']) assert.ok(findPrice(bundled, m)?.tiers.batch, `${m} has a batch price`);
    for (const m of ['o3', 'o4-mini', 'gpt-5', 'gpt-5-mini']) assert.ok(findPrice(bundled, m)?.tiers.flex, `${m} has a flex price`);
  });
});

describe('negative amounts', () => {
  it('print the sign before the dollar', () => {
    assert.equal(formatUsd(-150_000_000), '-$0.15');
    assert.equal(formatUsd(-4_200_000), '-$0.0042');
  });
});
