import type { Command } from 'commander';
import { formatUsd, usdToNanos } from '../../cost/compute.js';
import { formatDuration } from '../../report/rate.js';
import { runReports, type BatchReport, type LabeledBudget, type RunReport } from '../../pipeline/status.js';
import { parseRunName } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';
import { formatTable } from '../table.js';

export type { LabeledBudget, RunReport } from '../../pipeline/status.js';

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
        const reports = await runReports(session.context, flags.name);
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
          if (r.mode.configured !== 'online' || r.mode.now) process.stdout.write(`  ${formatMode(r.mode)}\n`);
          for (const b of r.batches) process.stdout.write(`  ${formatBatch(b)}\n`);
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

/** `mode auto, now flex (the deadline is near)`: the job's mode and, for `auto`, where it moved. */
export function formatMode(mode: RunReport['mode']): string {
  return `mode ${mode.configured}${mode.now ? `, now ${mode.now}${mode.reason ? ` (${mode.reason})` : ''}` : ''}`;
}

/** One provider batch: its id, items, when it was created, and a cancel sent. */
export function formatBatch(b: BatchReport): string {
  const id = b.batch_id ?? '(being created)';
  return `batch ${id}: ${b.items} items${b.submitted_at ? `, submitted ${b.submitted_at}` : ''}${b.cancel_requested ? ', cancel requested' : ''}`;
}
