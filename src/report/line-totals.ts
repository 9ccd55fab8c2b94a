import type { LineStatus, OutputLine } from '../core/output-line.js';
import { formatUsd, lineTotalNanos, usageCounts } from '../cost/compute.js';

/** Running totals over output lines: what the end-of-run summary, `collect` and `status` print. Pure. */
export interface RunTotals {
  lines: number;
  byStatus: Record<LineStatus, number>;
  tokens: { input: number; cached: number; output: number; reasoning: number; total: number };
  /** Lines whose usage was missing (the API may send null). */
  withoutUsage: number;
  apiCalls: number;
  /** Sum of the lines' `cost.total`, in nano-dollars. */
  costNanos: number;
  /** Lines with usage but no cost (their model has no price). */
  unpriced: number;
  /** Lines that carry a cost. */
  priced: number;
}

export function emptyTotals(): RunTotals {
  return {
    lines: 0,
    byStatus: { completed: 0, incomplete: 0, failed: 0, rejected: 0, invalid_output: 0, skipped: 0 },
    tokens: { input: 0, cached: 0, output: 0, reasoning: 0, total: 0 },
    withoutUsage: 0,
    apiCalls: 0,
    costNanos: 0,
    unpriced: 0,
    priced: 0,
  };
}

export function addLine(t: RunTotals, line: OutputLine): RunTotals {
  t.lines++;
  t.byStatus[line.status] = (t.byStatus[line.status] ?? 0) + 1;
  // Earlier attempts made one call each; the last one may have made several (samples, re-asks).
  t.apiCalls += line.attempts + (line.calls !== undefined && line.attempts > 0 ? line.calls - 1 : 0);
  const u = line.usage;
  const cost = lineTotalNanos(line.cost);
  if (cost !== null) {
    t.costNanos += cost;
    t.priced++;
  } else if (u) t.unpriced++;
  // A duplicate's tokens were paid for on the line of the item that called (docs/output-line.md#duplicates).
  if (line.duplicate_of !== undefined) return t;
  if (!u) {
    if (line.status === 'completed' || line.status === 'incomplete') t.withoutUsage++;
    return t;
  }
  // Read as `respool report` reads it, so that the run's summary and a report of its file agree.
  const counts = usageCounts(u);
  if (counts) {
    t.tokens.input += counts.input;
    t.tokens.cached += counts.cached;
    t.tokens.output += counts.output;
    t.tokens.reasoning += counts.reasoning;
  }
  t.tokens.total += num(u.total_tokens);
  return t;
}

/**
 * The lines' summed cost, or null when it is truly unknown: some lines had usage but no price and
 * none had a cost. Lines without usage (rejected, skipped) cost nothing, so a run of only those is $0.
 */
export function knownCostNanos(t: Pick<RunTotals, 'costNanos' | 'priced' | 'unpriced'>): number | null {
  return t.priced === 0 && t.unpriced > 0 ? null : t.costNanos;
}

export function formatTotals(t: RunTotals): string {
  const s = t.byStatus;
  const parts = [
    `${t.lines} lines: ${s.completed} completed, ${s.incomplete} incomplete, ${s.failed} failed, ${s.rejected} rejected${s.invalid_output > 0 ? `, ${s.invalid_output} invalid_output` : ''}`,
    `tokens: ${t.tokens.input} input (${t.tokens.cached} cached), ${t.tokens.output} output (${t.tokens.reasoning} reasoning), ${t.tokens.total} total`,
    `API calls: ${t.apiCalls}`,
    `cost: ${formatUsd(knownCostNanos(t))}${t.unpriced > 0 ? ` (${t.unpriced} line${t.unpriced === 1 ? '' : 's'} without a price)` : ''}`,
  ];
  if (s.skipped > 0) parts[0] += `, ${s.skipped} skipped (max_cost reached)`;
  if (t.withoutUsage > 0) parts.push(`${t.withoutUsage} answers came without usage`);
  return parts.join('; ');
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
