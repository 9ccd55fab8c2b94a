/**
 * The summary of a scheduled or incremental run: the log's last line and the `on_complete` webhook's
 * body (docs/nightly.md#the-summary). Pure.
 */
import type { LineStatus, OutputLine } from '../core/output-line.js';

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
  /** Sum of the lines' `cost.total`; null when no line had a cost. */
  cost: { total: number } | null;
  started_at: string;
  finished_at: string;
}

export interface SummaryCounter {
  byStatus: Record<LineStatus, number>;
  tokens: { input: number; output: number; total: number };
  cost: number | null;
}

export function emptyCounter(): SummaryCounter {
  return { byStatus: { completed: 0, incomplete: 0, failed: 0, rejected: 0, invalid_output: 0, skipped: 0 }, tokens: { input: 0, output: 0, total: 0 }, cost: null };
}

export function countLine(c: SummaryCounter, line: OutputLine): void {
  c.byStatus[line.status] = (c.byStatus[line.status] ?? 0) + 1;
  if (line.usage) {
    c.tokens.input += finite(line.usage.input_tokens);
    c.tokens.output += finite(line.usage.output_tokens);
    c.tokens.total += finite(line.usage.total_tokens);
  }
  // `cost` is `{total, ...} | null` on lines that carry one; older lines have no such field.
  const cost = (line as { cost?: unknown }).cost;
  const total = typeof cost === 'object' && cost !== null ? (cost as { total?: unknown }).total : undefined;
  if (typeof total === 'number' && Number.isFinite(total)) c.cost = (c.cost ?? 0) + total;
}

export function buildSummary(
  c: SummaryCounter,
  meta: Pick<RunSummary, 'job' | 'run' | 'date' | 'out' | 'outcome' | 'skipped_unchanged' | 'started_at' | 'finished_at'>,
): RunSummary {
  const s = c.byStatus;
  const items = s.completed + s.incomplete + s.failed + s.rejected;
  return {
    job: meta.job,
    run: meta.run,
    date: meta.date,
    out: meta.out,
    outcome: meta.outcome,
    items,
    completed: s.completed,
    incomplete: s.incomplete,
    failed: s.failed,
    rejected: s.rejected,
    failures: items - s.completed,
    skipped_unchanged: meta.skipped_unchanged,
    tokens: { ...c.tokens },
    // Rounded to 1e-9 so float sums of many small costs do not print as 0.30000000000000004.
    cost: c.cost === null ? null : { total: Math.round(c.cost * 1e9) / 1e9 },
    started_at: meta.started_at,
    finished_at: meta.finished_at,
  };
}

export function formatSummary(s: RunSummary): string {
  const cost = s.cost === null ? 'cost unknown' : `cost ${s.cost.total}`;
  return (
    `summary of ${s.run} (${s.outcome}): ${s.items} items, ${s.failures} failures ` +
    `(${s.failed} failed, ${s.rejected} rejected, ${s.incomplete} incomplete), ${s.skipped_unchanged} unchanged skipped, ` +
    `${s.tokens.total} tokens, ${cost}; results: ${s.out}`
  );
}

function finite(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
