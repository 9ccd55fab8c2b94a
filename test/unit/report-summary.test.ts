import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LineStatus, OutputLine, Usage } from '../../src/core/output-line.js';
import { addToGroup, emptyGroup } from '../../src/report/aggregate.js';
import { buildSummary, formatSummary } from '../../src/report/dated-run-summary.js';
import { addLine, emptyTotals, formatTotals, type RunTotals } from '../../src/report/line-totals.js';

let n = 0;
function line(status: LineStatus, usage: Usage | null, attempts = 1): OutputLine {
  n++;
  return {
    custom_id: `id-${n}`,
    status,
    model: 'm',
    output_text: status === 'completed' ? 'ok' : null,
    usage,
    response_id: usage ? `resp_${n}` : null,
    attempts,
    latency_ms: usage ? 12 : null,
    source: { file: 'in.csv', line: n },
    run: 'r',
    finished_at: '2025-01-01T00:00:00.000Z',
  };
}

function totalsOf(lines: OutputLine[]): RunTotals {
  return lines.reduce(addLine, emptyTotals());
}

describe('report summary: totals', () => {
  it('starts empty', () => {
    assert.deepEqual(emptyTotals(), {
      lines: 0,
      byStatus: { completed: 0, incomplete: 0, failed: 0, rejected: 0, invalid_output: 0, skipped: 0 },
      tokens: { input: 0, cached: 0, output: 0, reasoning: 0, total: 0 },
      withoutUsage: 0,
      apiCalls: 0,
      costNanos: 0,
      unpriced: 0,
      priced: 0,
    });
  });

  it('gives a fresh object each time (no shared state between runs)', () => {
    const a = emptyTotals();
    addLine(a, line('completed', null));
    assert.equal(emptyTotals().lines, 0);
    assert.equal(emptyTotals().byStatus.completed, 0);
  });

  it('counts lines by status and sums API calls', () => {
    const t = totalsOf([
      line('completed', { input_tokens: 1, output_tokens: 1, total_tokens: 2 }, 1),
      line('completed', { input_tokens: 1, output_tokens: 1, total_tokens: 2 }, 3),
      line('incomplete', { input_tokens: 1, output_tokens: 1, total_tokens: 2 }, 1),
      line('failed', null, 6),
      line('failed', null, 2),
      line('failed', null, 1),
      line('rejected', null, 0),
    ]);
    assert.equal(t.lines, 7);
    assert.deepEqual(t.byStatus, { completed: 2, incomplete: 1, failed: 3, rejected: 1, invalid_output: 0, skipped: 0 });
    assert.equal(t.apiCalls, 14);
  });

  it('counts invalid_output lines, and every call of a line that made several (samples, re-asks)', () => {
    const t = totalsOf([
      { ...line('invalid_output', { input_tokens: 3, output_tokens: 3, total_tokens: 6 }, 1), calls: 3 },
      // Two attempts: the first failed at the HTTP level, the second made three calls.
      { ...line('completed', { input_tokens: 3, output_tokens: 3, total_tokens: 6 }, 2), calls: 3 },
    ]);
    assert.equal(t.byStatus.invalid_output, 1);
    assert.equal(t.apiCalls, 3 + 4);
    assert.match(formatTotals(t), /1 completed, 0 incomplete, 0 failed, 0 rejected, 1 invalid_output/);
  });

  it('sums tokens, cached input tokens and reasoning tokens', () => {
    const t = totalsOf([
      line('completed', {
        input_tokens: 100,
        output_tokens: 40,
        total_tokens: 140,
        input_tokens_details: { cached_tokens: 64 },
        output_tokens_details: { reasoning_tokens: 30 },
      }),
      line('completed', {
        input_tokens: 10,
        output_tokens: 5,
        total_tokens: 15,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 2 },
      }),
      // No details at all: counted in input/output/total only.
      line('incomplete', { input_tokens: 7, output_tokens: 3, total_tokens: 10 }),
      // A failed response may still carry usage; it was paid for.
      line('failed', { input_tokens: 1, output_tokens: 0, total_tokens: 1, input_tokens_details: { cached_tokens: 1 } }),
    ]);
    assert.deepEqual(t.tokens, { input: 118, cached: 65, output: 48, reasoning: 32, total: 166 });
    assert.equal(t.withoutUsage, 0);
  });

  it('ignores non-numeric token counts instead of producing NaN or concatenating strings', () => {
    const odd = { input_tokens: '5', output_tokens: null, total_tokens: Number.NaN, input_tokens_details: { cached_tokens: Infinity } } as unknown as Usage;
    const t = totalsOf([line('completed', odd), line('completed', { input_tokens: 2, output_tokens: 3, total_tokens: 5 })]);
    assert.deepEqual(t.tokens, { input: 2, cached: 0, output: 3, reasoning: 0, total: 5 });
  });

  it('counts answers without usage (completed and incomplete), but not failed or rejected lines', () => {
    const t = totalsOf([
      line('completed', null),
      line('incomplete', null),
      line('completed', { input_tokens: 1, output_tokens: 1, total_tokens: 2 }),
      line('failed', null),
      line('rejected', null, 0),
    ]);
    assert.equal(t.withoutUsage, 2);
    assert.equal(t.lines, 5);
    assert.deepEqual(t.tokens, { input: 1, cached: 0, output: 1, reasoning: 0, total: 2 });
  });

  it('keeps usage extras (a router cost) out of the totals', () => {
    const t = totalsOf([line('completed', { input_tokens: 3, output_tokens: 4, total_tokens: 7, cost: 0.5 })]);
    assert.deepEqual(t.tokens, { input: 3, cached: 0, output: 4, reasoning: 0, total: 7 });
  });
});

describe('report summary: formatTotals', () => {
  it('prints statuses, tokens and API calls', () => {
    const t = totalsOf([
      line('completed', {
        input_tokens: 100,
        output_tokens: 40,
        total_tokens: 140,
        input_tokens_details: { cached_tokens: 64 },
        output_tokens_details: { reasoning_tokens: 30 },
      }, 2),
      line('failed', null, 6),
      line('rejected', null, 0),
    ]);
    assert.equal(
      formatTotals(t),
      '3 lines: 1 completed, 0 incomplete, 1 failed, 1 rejected; ' +
        'tokens: 100 input (64 cached), 40 output (30 reasoning), 140 total; ' +
        'API calls: 8; cost: unknown (1 line without a price)',
    );
  });

  it('adds up line costs exactly and counts lines with usage but no price; names skipped items', () => {
    const priced = (total: number) => ({ ...line('completed', { input_tokens: 1, output_tokens: 1, total_tokens: 2 }), cost: { input: null, cached_input: null, output: null, total, currency: 'USD' as const, source: 'api' as const } });
    const lines = [priced(0.1), priced(0.2), priced(0.000000001), { ...line('completed', { input_tokens: 1, output_tokens: 1, total_tokens: 2 }), cost: null }, { ...line('skipped', null, 0), cost: null }];
    const t = totalsOf(lines);
    assert.equal(t.costNanos, 300_000_001);
    assert.equal(t.unpriced, 1);
    assert.equal(t.byStatus.skipped, 1);
    assert.match(formatTotals(t), /^5 lines: 4 completed, 0 incomplete, 0 failed, 0 rejected, 1 skipped \(max_cost reached\);/);
    assert.match(formatTotals(t), /; cost: \$0\.30 \(1 line without a price\)/);
  });

  it('mentions answers without usage only when there are some', () => {
    const withMissing = totalsOf([line('completed', null), line('incomplete', null)]);
    assert.match(formatTotals(withMissing), /; 2 answers came without usage$/);
    assert.doesNotMatch(formatTotals(totalsOf([line('failed', null)])), /without usage/);
  });

  it('prints an empty run', () => {
    assert.equal(
      formatTotals(emptyTotals()),
      '0 lines: 0 completed, 0 incomplete, 0 failed, 0 rejected; tokens: 0 input (0 cached), 0 output (0 reasoning), 0 total; API calls: 0; cost: $0.00',
    );
  });
});

describe('report summary: agrees with respool report', () => {
  it('counts the tokens of odd usage objects as the report does', () => {
    const odd = [
      line('completed', { input_tokens: 10, input_tokens_details: { cached_tokens: 25 }, output_tokens: 3.7, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 13 } as Usage),
      line('completed', { input_tokens: -4, output_tokens: 5, total_tokens: 1 } as Usage),
      line('incomplete', { input_tokens: 7, input_tokens_details: null, output_tokens: 0, output_tokens_details: null, total_tokens: 7 } as unknown as Usage),
    ];
    const group = emptyGroup();
    for (const l of odd) addToGroup(group, l as unknown as Record<string, unknown>);
    const t = totalsOf(odd);
    const { total, ...tokens } = t.tokens;
    assert.deepEqual(tokens, group.tokens);
    // Cached capped at input, fractions floored, negatives as 0.
    assert.deepEqual(tokens, { input: 17, cached: 10, output: 8, reasoning: 2 });
    assert.equal(total, 21);
  });
});

describe('run summary: money printed as everywhere else', () => {
  const meta = { job: 'c', run: 'c-2026-12-01', date: '2026-12-01', out: '/o', outcome: 'complete' as const, skipped_unchanged: 0, started_at: 's', finished_at: 'f' };
  const withCost = (total: number) => ({ ...line('completed', { input_tokens: 1, output_tokens: 1, total_tokens: 2 }), cost: { input: null, cached_input: null, output: null, total, currency: 'USD' as const, source: 'api' as const } });
  it('a $ sign and enough digits for a small amount', () => {
    assert.match(formatSummary(buildSummary(totalsOf([withCost(0.00033315)]), meta)), /, cost \$0\.00033; results: /);
  });
  it('$0.00 for a run that billed nothing, not "unknown"', () => {
    const s = buildSummary(totalsOf([line('rejected', null, 0), { ...line('skipped', null, 0), cost: null }]), meta);
    assert.deepEqual(s.cost, { total: 0 });
    assert.match(formatSummary(s), /, cost \$0\.00; results: /);
  });
  it('unknown only when lines with usage had no price and none had a cost', () => {
    const s = buildSummary(totalsOf([line('completed', { input_tokens: 1, output_tokens: 1, total_tokens: 2 })]), meta);
    assert.equal(s.cost, null);
    assert.match(formatSummary(s), /, cost unknown; results: /);
  });
});
