import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { costNanos, formatUsd, lineCost, lineTotalNanos, NANOS_PER_USD, usageCounts, usdString } from '../../src/cost/compute.js';
import { BUNDLED_PRICES_DIR, bundledPrices, loadPrices } from '../../src/cost/load-prices.js';
import { Pricer } from '../../src/cost/pricer.js';
import { findPrice, mergeTables, parsePriceFile, PriceFileError, tableToJson } from '../../src/cost/prices.js';

const table = parsePriceFile(
  {
    currency: 'USD',
    models: {
      'gpt-4o': { input: 2.5, cached_input: 1.25, output: 10, as_of: '2025-08-01', source: 'https://platform.openai.com/docs/pricing' },
      'o4-mini': { input: 1.1, cached_input: 0.275, output: 4.4 },
      'no-cache-rate': { input: 3, output: 15, aliases: ['nc-latest'] },
      'o4-mini-2025-04-16': { input: 9, output: 9 },
    },
  },
  'test',
);
const usage = (input: number, cached: number, output: number, reasoning = 0, extra: Record<string, unknown> = {}) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: cached },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: reasoning },
  total_tokens: input + output,
  ...extra,
});

describe('cost math', () => {
  it('prices uncached input, cached input and output at their own rates', () => {
    // 1,000 input of which 400 cached, 500 output, at gpt-4o: 600 * 2.5 + 400 * 1.25 + 500 * 10 per 1M.
    const c = lineCost(usage(1000, 400, 500), findPrice(table, 'gpt-4o'))!;
    assert.equal(c.input, 0.0015);
    assert.equal(c.cached_input, 0.0005);
    assert.equal(c.output, 0.005);
    assert.equal(c.total, 0.007);
    assert.equal(c.currency, 'USD');
    assert.equal(c.source, 'price_table');
  });

  it('bills reasoning tokens as output: they are part of output_tokens, not added again', () => {
    const withReasoning = lineCost(usage(100, 0, 300, 250), findPrice(table, 'o4-mini'))!;
    const without = lineCost(usage(100, 0, 300, 0), findPrice(table, 'o4-mini'))!;
    assert.deepEqual(withReasoning, without);
    // 100 * 1.1 + 300 * 4.4 per 1M = 0.00143
    assert.equal(withReasoning.total, 0.00143);
  });

  it('a model without a cached rate bills cached tokens as input', () => {
    const c = lineCost(usage(1000, 1000, 0), findPrice(table, 'no-cache-rate'))!;
    assert.equal(c.input, 0);
    assert.equal(c.cached_input, 0.003);
  });

  it('rounds each part to nano-dollars and the total is their exact sum', () => {
    // $0.0375 per 1M tokens is 37.5 nano-dollars a token: half a nano-dollar rounds up, per part.
    const p = parsePriceFile({ models: { cheap: { input: 0.0375, cached_input: 0.0125, output: 0.0005 } } }, 't').get('cheap')!;
    assert.deepEqual(costNanos({ input: 1, cached: 0, output: 0 }, p), { input: 38, cachedInput: 0, output: 0, total: 38 });
    assert.deepEqual(costNanos({ input: 5, cached: 2, output: 3 }, p), { input: 113, cachedInput: 25, output: 2, total: 140 });
    for (let i = 0; i < 2000; i++) {
      const c = costNanos({ input: i * 37, cached: i * 11, output: i * 53 }, p);
      assert.equal(c.total, c.input + c.cachedInput + c.output);
      assert.ok(Number.isInteger(c.total));
    }
  });

  it('resolves dated snapshots, router prefixes and aliases; an exact entry wins', () => {
    assert.equal(findPrice(table, 'gpt-4o-2024-08-06')?.model, 'gpt-4o');
    assert.equal(findPrice(table, 'openai/gpt-4o')?.model, 'gpt-4o');
    assert.equal(findPrice(table, 'openai/gpt-4o-2024-11-20')?.model, 'gpt-4o');
    assert.equal(findPrice(table, 'nc-latest')?.model, 'no-cache-rate');
    assert.equal(findPrice(table, 'o4-mini-2025-04-16')?.model, 'o4-mini-2025-04-16');
    assert.equal(findPrice(table, 'o4-mini-2099-01-01')?.model, 'o4-mini');
    assert.equal(findPrice(table, 'gpt-4o-mini'), null, 'a longer name is not its prefix');
    assert.equal(findPrice(table, 'mystery'), null);
  });

  it('an unknown model gets cost null and one warning per model, never a zero', () => {
    const warnings: string[] = [];
    const pricer = new Pricer(table, (m) => warnings.push(m));
    assert.equal(pricer.costOf('mystery', usage(10, 0, 10)), null);
    assert.equal(pricer.costOf('mystery', usage(20, 0, 20)), null);
    assert.equal(pricer.costOf('other-mystery', usage(20, 0, 20)), null);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /"mystery"/);
    // No usage (a rejected or failed line) is no cost, and no warning.
    assert.equal(pricer.costOf('third', null), null);
    assert.equal(warnings.length, 2);
    assert.equal(pricer.costOf('gpt-4o', usage(1000, 0, 0))?.total, 0.0025);
  });

  it('prefers a cost the API reported in usage, for known and unknown models', () => {
    const known = lineCost(usage(1000, 0, 1000, 0, { cost: 0.0123 }), findPrice(table, 'gpt-4o'))!;
    assert.deepEqual(known, { input: null, cached_input: null, output: null, total: 0.0123, currency: 'USD', source: 'api', tier: 'standard' });
    const unknown = new Pricer(table).costOf('mystery', usage(1, 0, 1, 0, { cost: 0.5 }));
    assert.equal(unknown?.total, 0.5);
    assert.equal(unknown?.source, 'api');
    // A reported cost that is not a number is ignored.
    assert.equal(lineCost(usage(1000, 0, 0, 0, { cost: 'n/a' }), findPrice(table, 'gpt-4o'))?.source, 'price_table');
  });

  it('reads broken usage without throwing', () => {
    assert.equal(usageCounts(null), null);
    assert.deepEqual(usageCounts({ input_tokens: -3, output_tokens: 'x' }), { input: 0, cached: 0, output: 0, reasoning: 0 });
    assert.deepEqual(usageCounts({ input_tokens: 5, input_tokens_details: { cached_tokens: 9 }, output_tokens: 1 }), { input: 5, cached: 5, output: 1, reasoning: 0 });
  });

  it('line totals go back to exact nano-dollars, so sums of many lines match to the cent', () => {
    const p = findPrice(table, 'gpt-4o')!;
    let nanos = 0;
    let floatSum = 0;
    for (let i = 0; i < 10_000; i++) {
      const c = lineCost(usage(100 + (i % 977), i % 50, 20 + (i % 313)), p)!;
      const back = lineTotalNanos(JSON.parse(JSON.stringify(c)))!;
      assert.equal(back, Math.round(c.total * NANOS_PER_USD));
      nanos += back;
      floatSum += c.total;
    }
    assert.ok(Math.abs(nanos / NANOS_PER_USD - floatSum) < 0.005);
    assert.equal(lineTotalNanos(null), null);
    assert.equal(lineTotalNanos({ total: 'x' }), null);
  });

  it('formats amounts', () => {
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(1_234_567_890_000), '$1,234.57');
    assert.equal(formatUsd(4_200_000), '$0.0042');
    assert.equal(formatUsd(333_150), '$0.00033');
    assert.equal(formatUsd(30_000_000), '$0.03');
    assert.equal(formatUsd(null), 'unknown');
    assert.equal(usdString(1_500_000_000), '1.5');
    assert.equal(usdString(450), '0.00000045');
    assert.equal(usdString(0), '0');
  });
});

describe('price files', () => {
  it('names the file and field of a bad entry', () => {
    assert.throws(() => parsePriceFile({ models: { m: { input: 1 } } }, 'mine.json'), (e: unknown) => e instanceof PriceFileError && /mine\.json: models\.m\.output/.test(e.message));
    assert.throws(() => parsePriceFile({ models: { m: { input: -1, output: 1 } } }, 'x'), /models\.m\.input/);
    assert.throws(() => parsePriceFile({ models: { m: { input: 1, output: 1, outptu: 2 } } }, 'x'), /unknown field "outptu"/);
    assert.throws(() => parsePriceFile({ currency: 'EUR', models: {} }, 'x'), /only USD/);
    assert.throws(() => parsePriceFile([], 'x'), /object/);
  });

  it('a user file overrides and adds models; tables survive the trip through JSON', () => {
    const mine = parsePriceFile({ models: { 'gpt-4o': { input: 1, output: 2 }, 'my-model': { input: 0.5, output: 0.5 } } }, 'mine');
    const merged = mergeTables(table, mine);
    assert.equal(findPrice(merged, 'gpt-4o-2024-08-06')!.input, 1_000_000);
    assert.equal(findPrice(merged, 'my-model')!.output, 500_000);
    assert.equal(findPrice(merged, 'o4-mini')!.cachedInput, 275_000);
    const again = parsePriceFile(JSON.parse(JSON.stringify(tableToJson(merged))), 'again');
    assert.deepEqual([...again.entries()].map(([k, v]) => [k, v.input, v.cachedInput, v.output]), [...merged.entries()].map(([k, v]) => [k, v.input, v.cachedInput, v.output]));
  });

  it('the bundled table prices the common OpenAI models, each with a date and a source', async () => {
    const bundled = await bundledPrices();
    for (const m of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o4-mini', 'o3']) {
      const p = findPrice(bundled, m);
      assert.ok(p, m);
      assert.match(p.asOf ?? '', /^\d{4}-\d{2}-\d{2}$/, m);
      assert.match(p.source ?? '', /^https:\/\//, m);
      assert.ok(p.output >= p.input && p.input >= p.cachedInput, m);
    }
    assert.equal(findPrice(bundled, 'o4-mini-2025-04-16')?.model, 'o4-mini');
    assert.ok(BUNDLED_PRICES_DIR.endsWith(`${path.sep}prices`));
    await assert.rejects(loadPrices('/nonexistent/prices.json'), /cannot read price file/);
  });
});
