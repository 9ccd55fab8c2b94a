import { ledgerCounts } from '../queue/ledger.js';
import { runKeys } from '../queue/keys.js';
import { listRuns, loadRun } from '../queue/run-meta.js';
import { readLineCounts, readProgress } from '../queue/line-stats.js';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import { readSpend } from '../queue/cost-cap.js';
import { nanosToUsd, usdToNanos } from '../cost/compute.js';
import { etaSeconds, recentRate } from '../report/rate.js';
import { oldestPendingTimestamp } from '../report/run-status.js';
import { budgetKeys, readLabel, readSnapshot, type BudgetSnapshot } from '../worker/limits/budget.js';
import type { ExecutionMode } from '../config/schema.js';
import { BatchState } from '../queue/batch-state.js';
import { RunStore } from '../queue/run-store.js';
import type { PipelineContext } from './context.js';

/** What `respool status` shows of one run (its `--json` output is an array of these). */
export interface RunReport {
  run: string;
  state: string;
  stop_reason: string | null;
  enqueue_done: boolean;
  items: number;
  written: number;
  queue: Record<string, number>;
  /** Lines delivered by workers and not yet written by the collector. */
  to_write: number;
  /** The rate-limit budgets the run's workers use (shared with other runs on the same key). */
  budgets: LabeledBudget[];
  out: string;
  model: string;
  /** With max_cost: the cap, what was spent and what calls in flight reserved (USD). */
  max_cost?: { cap: number; spent: number; in_flight: number; reached: boolean };
  /** Jobs waiting for a worker (wait + prioritized). */
  queued: number;
  active: number;
  /** Jobs waiting to be tried again after a failed attempt. */
  delayed: number;
  /** Lines written, of every status (the same as `written`). */
  completed: number;
  /** Lines written with status `failed` (these are what `respool retry` queues again). */
  failed: number;
  /** Lines written per status. */
  lines: Record<string, number>;
  /** Lines written per second over about the last minute; null before there is a measure. */
  rate: number | null;
  /** Seconds until every item known so far has its line, at `rate`; null when unknown. */
  eta_s: number | null;
  /** Age in seconds of the oldest job waiting or in flight; null when there is none. */
  oldest_s: number | null;
  /**
   * How the run sends its items (docs/modes.md): the job's `mode`; for `auto`, the tier it moved to
   * (`flex`, `online`) and why, once it did.
   */
  mode: { configured: ExecutionMode; now: string | null; reason: string | null };
  /** The provider batches the run has out (batch and auto modes), oldest first. */
  batches: BatchReport[];
}

/** One provider batch of a run, as `status` shows it. */
export interface BatchReport {
  /** The provider's batch id; null while the batch is being created. */
  batch_id: string | null;
  items: number;
  /** When the provider batch was created (ISO 8601); null while being created. */
  submitted_at: string | null;
  /** True once `cancel` was sent for it (the run was cancelled, or `auto` moved its items online). */
  cancel_requested: boolean;
}

/** One run's figures, or null when no run has that name. */
export async function runReport(ctx: PipelineContext, run: string): Promise<RunReport | null> {
  const status = await loadRun(ctx.redis, run, ctx.prefix);
  if (!status) return null;
  const counts = await ctx.queue(run).getJobCounts('wait', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  const keys = runKeys(run, ctx.prefix);
  const [{ items, written }, streamed] = await Promise.all([ledgerCounts(ctx.redis, keys), ctx.redis.xlen(keys.results)]);
  const [lines, samples, superseded, oldest] = await Promise.all([
    readLineCounts(ctx.redis, keys),
    readProgress(ctx.redis, keys),
    ctx.redis.hlen(keys.superseded),
    oldestPendingTimestamp(ctx.queue(run)),
  ]);
  const now = Date.now();
  const rate = recentRate(samples, written, now);
  const complete = status.enqueueDone && written >= items && superseded === 0;
  const budgetIds = await ctx.redis.smembers(keys.budgets);
  const budgets = await Promise.all(budgetIds.map((id) => readBudget(ctx, id)));
  const [modeSwitch, chunks] = await Promise.all([new RunStore(ctx.redis, run, ctx.prefix).modeSwitch(), new BatchState(ctx.redis, run, ctx.prefix).chunks()]);
  return {
    run,
    state: status.state === 'cancelled' ? 'cancelled' : complete ? 'complete' : status.state,
    stop_reason: status.stopReason,
    enqueue_done: status.enqueueDone,
    items,
    written,
    queue: counts,
    to_write: streamed + (counts.failed ?? 0),
    budgets,
    out: status.settings.out,
    model: status.settings.model || 'from the input lines',
    ...(await maxCostReport(ctx, run, status.settings.maxCost)),
    queued: (counts.wait ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    completed: written,
    failed: lines.failed ?? 0,
    lines,
    rate: rate === null ? null : Math.round(rate * 100) / 100,
    eta_s: roundTenth(etaSeconds(items - written, rate)),
    oldest_s: oldest === null ? null : roundTenth(Math.max(0, (now - oldest) / 1000)),
    mode: { configured: status.settings.mode ?? 'online', ...modeSwitch },
    batches: chunks.map((c) => ({
      batch_id: c.batchId ?? null,
      items: c.n,
      submitted_at: c.submittedAt === undefined ? null : new Date(c.submittedAt).toISOString(),
      cancel_requested: c.cancelRequested === true,
    })),
  };
}

async function maxCostReport(ctx: PipelineContext, run: string, maxCost: number | undefined): Promise<Pick<RunReport, 'max_cost'>> {
  if (maxCost === undefined) return {};
  const s = await readSpend(ctx.redis, run, ctx.prefix);
  return { max_cost: { cap: maxCost, spent: nanosToUsd(s.spentNanos), in_flight: nanosToUsd(s.reservedNanos), reached: s.cappedAtNanos === usdToNanos(maxCost) } };
}

/** A budget's figures and its name for people (model @ host), when a worker recorded one. */
export interface LabeledBudget extends BudgetSnapshot {
  label: string | null;
}

async function readBudget(ctx: PipelineContext, id: string): Promise<LabeledBudget> {
  const keys = budgetKeys(ctx.prefix ?? QUEUE_DEFAULTS.prefix, id);
  const [snapshot, label] = await Promise.all([readSnapshot(ctx.redis, keys, id), readLabel(ctx.redis, keys)]);
  return { ...snapshot, label };
}

/** The reports of the run named, or of every run under the prefix. A name that no run has gives an empty list. */
export async function runReports(ctx: PipelineContext, name?: string): Promise<RunReport[]> {
  const runs = name ? [name] : await listRuns(ctx.redis, ctx.prefix);
  return (await Promise.all(runs.map((r) => runReport(ctx, r)))).filter((r): r is RunReport => r !== null);
}

function roundTenth(n: number | null): number | null {
  return n === null ? null : Math.round(n * 10) / 10;
}
