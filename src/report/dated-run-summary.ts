/**
 * The summary of a scheduled or incremental run: the log's last line and the `on_complete` webhook's
 * body (docs/nightly.md#the-summary). Pure.
 */
import { formatUsd, nanosToUsd, usdToNanos } from '../cost/compute.js';
import { knownCostNanos, type RunTotals } from './line-totals.js';

export interface RunSummary {
  /** The schedule (or job) the run belongs to; its incremental state is kept under this name. */
  job: string;
  run: string;
  /** The run's date (`YYYY-MM-DD`), in the schedule's time zone. */
  date: string;
  out: string;
  outcome: 'complete' | 'stopped' | 'interrupted';
  /** Lines written by this run. */
  items: number;
  completed: number;
  incomplete: number;
  failed: number;
  rejected: number;
  /** Lines that are not `completed`: their items are sent again by the next run. */
  failures: number;
  /** Items left out because an earlier run already wrote them. */
  skipped_unchanged: number;
  tokens: { input: number; output: number; total: number };
  /** Sum of the lines' `cost.total`; null when unknown (lines with usage had no price, none had a cost). */
  cost: { total: number } | null;
  started_at: string;
  finished_at: string;
}

/** `totals`: of the lines this run wrote (what `runPipeline` returns). */
export function buildSummary(
  totals: RunTotals,
  meta: Pick<RunSummary, 'job' | 'run' | 'date' | 'out' | 'outcome' | 'skipped_unchanged' | 'started_at' | 'finished_at'>,
): RunSummary {
  const s = totals.byStatus;
  return {
    job: meta.job,
    run: meta.run,
    date: meta.date,
    out: meta.out,
    outcome: meta.outcome,
    items: totals.lines,
    completed: s.completed,
    incomplete: s.incomplete,
    failed: s.failed,
    rejected: s.rejected,
    failures: totals.lines - s.completed,
    skipped_unchanged: meta.skipped_unchanged,
    tokens: { input: totals.tokens.input, output: totals.tokens.output, total: totals.tokens.total },
    // Summed in whole nano-dollars, so many small costs do not print as 0.30000000000000004.
    cost: costOf(totals),
    started_at: meta.started_at,
    finished_at: meta.finished_at,
  };
}

function costOf(totals: RunTotals): RunSummary['cost'] {
  const nanos = knownCostNanos(totals);
  return nanos === null ? null : { total: nanosToUsd(nanos) };
}

export function formatSummary(s: RunSummary): string {
  const cost = `cost ${formatUsd(s.cost === null ? null : usdToNanos(s.cost.total))}`;
  return (
    `summary of ${s.run} (${s.outcome}): ${s.items} items, ${s.failures} failures ` +
    `(${s.failed} failed, ${s.rejected} rejected, ${s.incomplete} incomplete), ${s.skipped_unchanged} unchanged skipped, ` +
    `${s.tokens.total} tokens, ${cost}; results: ${s.out}`
  );
}
