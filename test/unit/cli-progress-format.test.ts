import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { etaOf, formatBar, plainLine, progressEvent, terminalLine, type ProgressFigures } from '../../src/cli/progress-format.js';

function figures(over: Partial<ProgressFigures> = {}): ProgressFigures {
  return {
    done: 1040,
    total: 2000,
    totalIsEstimate: false,
    failed: 3,
    rejected: 0,
    rateLimited: 12,
    costNanos: 4_200_000,
    resumedFrom: 0,
    rate: 47.14,
    elapsedMs: 22_000,
    ...over,
  };
}

describe('formatBar', () => {
  it('fills cells in proportion, rounding down, and shows an unknown share as empty', () => {
    assert.equal(formatBar(0.5, 10), '[█████░░░░░]');
    assert.equal(formatBar(0.99, 10), '[█████████░]');
    assert.equal(formatBar(1, 4), '[████]');
    assert.equal(formatBar(null, 4), '[░░░░]');
  });
});

describe('terminalLine', () => {
  it('shows bar, share, done/total, rate, elapsed, ETA, failed, 429s and cost', () => {
    const line = terminalLine(figures(), 200);
    assert.equal(line, '[███████████████░░░░░░░░░░░░░░░]   52%  1,040/2,000  47.1/s  elapsed 22s  ETA 20s  failed 3  429s 12  $0.0042');
  });

  it('marks a total counted ahead of the reader with ~, and an unknown one with ?', () => {
    assert.match(terminalLine(figures({ totalIsEstimate: true }), 200), / 1,040\/~2,000 /);
    const unknown = terminalLine(figures({ total: null }), 200);
    assert.match(unknown, /^\[░+\] +\?% {2}1,040\/\? /);
    assert.match(unknown, /ETA - /);
  });

  it('never shows a total below what is done (an estimate can be short)', () => {
    assert.match(terminalLine(figures({ total: 1000, totalIsEstimate: true }), 200), / 100% {2}1,040\/~1,040 /);
  });

  it('says when the run was resumed, and that the cost is of this process', () => {
    const line = terminalLine(figures({ resumedFrom: 295 }), 200);
    assert.match(line, /\$0\.0042 since resume {2}resumed at 295$/);
  });

  it('fits the terminal: the bar shrinks, then the least useful figures go, never past the width', () => {
    for (const columns of [200, 100, 80, 60, 40, 20, 8]) {
      const line = terminalLine(figures({ rejected: 2, resumedFrom: 10 }), columns);
      assert.ok(line.length < columns, `${columns} columns: ${line.length} characters: ${line}`);
    }
    const narrow = terminalLine(figures(), 60);
    assert.match(narrow, /1,040\/2,000/);
    assert.match(narrow, /ETA 20s/);
    assert.doesNotMatch(narrow, /elapsed/);
  });
});

describe('plainLine', () => {
  it('carries the same figures as words, for a log', () => {
    assert.equal(
      plainLine(figures({ totalIsEstimate: true, rate: null })),
      'progress 1,040/~2,000 (52%), - lines/s, elapsed 22s, ETA -, failed 3, rejected 0, 429s 12, cost $0.0042',
    );
  });
});

describe('progressEvent', () => {
  it('has structured fields: done, total, failed, rate, eta_s, cost in USD', () => {
    assert.deepEqual(progressEvent(figures({ totalIsEstimate: true, resumedFrom: 5 })), {
      event: 'progress',
      done: 1040,
      total: 2000,
      total_estimated: true,
      failed: 3,
      rejected: 0,
      rate_limited: 12,
      rate: 47.14,
      eta_s: 20.4,
      elapsed_s: 22,
      cost: 0.0042,
      resumed_from: 5,
    });
  });

  it('has null total and ETA while the total is unknown', () => {
    const e = progressEvent(figures({ total: null, totalIsEstimate: true }));
    assert.equal(e.total, null);
    assert.equal(e.total_estimated, false);
    assert.equal(e.eta_s, null);
  });
});

describe('etaOf', () => {
  it('is what remains at the rate, 0 when done, unknown without a rate', () => {
    assert.equal(etaOf(figures({ done: 1000, total: 2000, rate: 10 })), 100);
    assert.equal(etaOf(figures({ done: 2000, total: 2000, rate: null })), 0);
    assert.equal(etaOf(figures({ rate: null })), null);
  });
});
