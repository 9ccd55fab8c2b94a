import type { Command } from 'commander';
import { ledgerCounts } from '../../queue/ledger.js';
import { runKeys } from '../../queue/keys.js';
import { listRuns, loadRun } from '../../queue/run-meta.js';
import { parseRunName } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';
import { budgetKeys, readSnapshot, type BudgetSnapshot } from '../../worker/limits/budget.js';
import { BUDGET_LABEL_FIELD } from '../../worker/limits/budget-label.js';
import { QUEUE_DEFAULTS } from '../../config/defaults.js';
import { readSpend } from '../../queue/cost-cap.js';
import { formatUsd, nanosToUsd, usdToNanos } from '../../cost/compute.js';
import { readLineCounts, readProgress } from '../../queue/line-stats.js';
import { etaSeconds, formatDuration, recentRate } from '../../report/rate.js';
import { oldestPendingTimestamp } from '../../report/run-status.js';
import { formatTable } from '../table.js';

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
}

export async function runReport(session: Session, run: string): Promise<RunReport | null> {
  const status = await loadRun(session.redis, run, session.prefix);
  if (!status) return null;
  const counts = await session.queue(run).getJobCounts('wait', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  const keys = runKeys(run, session.prefix);
  const [{ items, written }, streamed] = await Promise.all([ledgerCounts(session.redis, keys), session.redis.xlen(keys.results)]);
  const [lines, samples, superseded, oldest] = await Promise.all([
    readLineCounts(session.redis, keys),
    readProgress(session.redis, keys),
    session.redis.hlen(keys.superseded),
    oldestPendingTimestamp(session.queue(run)),
  ]);
  const now = Date.now();
  const rate = recentRate(samples, written, now);
  const complete = status.enqueueDone && written >= items && superseded === 0;
  const budgetIds = await session.redis.smembers(keys.budgets);
  const budgets = await Promise.all(budgetIds.map((id) => readBudget(session, id)));
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
    ...(await maxCostReport(session, run, status.settings.maxCost)),
    queued: (counts.wait ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    completed: written,
    failed: lines.failed ?? 0,
    lines,
    rate: rate === null ? null : Math.round(rate * 100) / 100,
    eta_s: roundTenth(etaSeconds(items - written, rate)),
    oldest_s: oldest === null ? null : roundTenth(Math.max(0, (now - oldest) / 1000)),
  };
}

async function maxCostReport(session: Session, run: string, maxCost: number | undefined): Promise<Pick<RunReport, 'max_cost'>> {
  if (maxCost === undefined) return {};
  const s = await readSpend(session.redis, run, session.prefix);
  return { max_cost: { cap: maxCost, spent: nanosToUsd(s.spentNanos), in_flight: nanosToUsd(s.reservedNanos), reached: s.cappedAtNanos === usdToNanos(maxCost) } };
}

/** A budget's figures and its name for people (model @ host), when a worker recorded one. */
export interface LabeledBudget extends BudgetSnapshot {
  label: string | null;
}

async function readBudget(session: Session, id: string): Promise<LabeledBudget> {
  const keys = budgetKeys(session.prefix ?? QUEUE_DEFAULTS.prefix, id);
  const [snapshot, label] = await Promise.all([readSnapshot(session.redis, keys, id), session.redis.hget(keys.hash, BUDGET_LABEL_FIELD)]);
  return { ...snapshot, label };
}

export function formatBudget(b: LabeledBudget): string {
  const limit = (v: number | null, unit: string) => (v === null ? `no ${unit} limit` : `${unit} limit ${v}`);
  const rpm = b.rpm === null && b.adaptiveRpm !== null ? `learned rpm ${b.adaptiveRpm}` : limit(b.rpm, 'rpm');
  const tpm = b.tpm === null && b.announcedTpm !== null ? `announced tpm ${b.announcedTpm}` : limit(b.tpm, 'tpm');
  const paused = b.pausedForMs > 0 ? `, paused for ${(b.pausedForMs / 1000).toFixed(1)}s` : '';
  return (
    `budget ${b.label ? `${b.label} (${b.key.slice(0, 8)})` : b.key.slice(0, 8)}: ${b.recentRpm} req/min (${rpm}), ${b.recentTpm} tok/min (${tpm}), ` +
    `${b.inFlight} in flight${b.maxInFlight ? ` of ${b.maxInFlight}` : ''}, ${b.rateLimited} answered 429${paused}`
  );
}

export function registerStatus(program: Command, globals: () => GlobalFlags): void {
  program
    .command('status')
    .description('per run: state, queued, active, delayed (retrying), lines written (completed), failed, rate, ETA, oldest item; budgets')
    .option('-n, --name <run>', 'only this run', parseRunName)
    .option('--json', 'print JSON')
    .action(async (flags: { name?: string; json?: boolean }) => {
      const session = await Session.open(globals());
      try {
        const runs = flags.name ? [flags.name] : await listRuns(session.redis, session.prefix);
        const reports = (await Promise.all(runs.map((r) => runReport(session, r)))).filter((r): r is RunReport => r !== null);
        if (flags.name && reports.length === 0) throw new Error(`no run named ${flags.name}`);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
          return;
        }
        if (reports.length === 0) process.stdout.write('no runs\n');
        else process.stdout.write(`${statusTable(reports)}\n`);
        for (const r of reports) {
          const q = r.queue;
          process.stdout.write(
            `${r.run}  ${r.state}${r.stop_reason ? ` (${r.stop_reason})` : ''}${r.enqueue_done ? '' : ' (enqueueing)'}\n` +
              `  items ${r.items}, written ${r.written}, waiting ${(q.wait ?? 0) + (q.prioritized ?? 0)}, active ${q.active ?? 0}, ` +
              `retrying ${q.delayed ?? 0}, to write ${r.to_write}\n  model ${r.model}, out ${r.out}\n`,
          );
          if (r.max_cost) {
            const m = r.max_cost;
            process.stdout.write(`  max_cost ${formatUsd(usdToNanos(m.cap))}: spent ${formatUsd(usdToNanos(m.spent))}, ${formatUsd(usdToNanos(m.in_flight))} reserved in flight${m.reached ? ', reached: the rest is skipped' : ''}\n`);
          }
          for (const b of r.budgets) process.stdout.write(`  ${formatBudget(b)}\n`);
        }
      } finally {
        await session.close();
      }
    });
}

/** One row per run: the figures an operator looks at first. */
export function statusTable(reports: RunReport[]): string {
  const header = ['RUN', 'STATE', 'QUEUED', 'ACTIVE', 'DELAYED', 'COMPLETED', 'FAILED', 'RATE/S', 'ETA', 'OLDEST'];
  const rows = reports.map((r) => [
    r.run,
    r.state,
    String(r.queued),
    String(r.active),
    String(r.delayed),
    `${r.completed}/${r.items}`,
    String(r.failed),
    r.rate === null ? '-' : r.rate.toFixed(1),
    formatDuration(r.eta_s),
    formatDuration(r.oldest_s),
  ]);
  return formatTable(header, rows, 2);
}

function roundTenth(n: number | null): number | null {
  return n === null ? null : Math.round(n * 10) / 10;
}
