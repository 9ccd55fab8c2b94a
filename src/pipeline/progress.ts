import { countInputItems } from '../inputs/count.js';
import type { OutputLine } from '../core/output-line.js';
import { ledgerCounts } from '../queue/ledger.js';
import { readLineCounts } from '../queue/line-stats.js';
import { runKeys } from '../queue/keys.js';
import { loadRun } from '../queue/run-meta.js';
import type { PipelineContext } from './context.js';

/** The run's own count of its items, for the total: exact once its inputs are all read. */
export type TotalSource = () => Promise<{ items: number; exact: boolean }>;

/**
 * What follows a run's progress: the command line's bar (src/cli/progress.ts) or the library's
 * `onProgress` (./progress-events.ts). Counts cover the whole run, a resumed run's earlier lines included.
 */
export interface ProgressListener {
  /** Aborted when the listener stops: for work done only for it (counting the inputs). */
  readonly signal: AbortSignal;
  /** Lines this process wrote, once they are in the results file. */
  onLines(lines: OutputLine[]): void;
  /** What the run had when this process looked (a resumed run's earlier lines). */
  resumeFrom(run: { written: number; failed: number; rejected: number }): void;
  /** Items counted ahead of the reader, until the run's own count is exact. */
  estimateTotal(items: number): void;
  /** The run's exact item count, once every input was read. */
  setTotal(items: number): void;
  /** Where to read the run's item count while it is still being enqueued. */
  followTotal(source: TotalSource): void;
  /** Where to read how many calls were answered 429 so far. */
  countRateLimited(source: () => number): void;
}

/**
 * Shows the whole run in `progress`: the lines it had before this process (a resumed run), its item
 * count from the ledger (items in flight + written), and, while the inputs are still being read, a
 * count of them made ahead of the reader. The reader itself stays streamed.
 */
export async function followRunProgress(progress: ProgressListener, ctx: PipelineContext, run: string, inputs?: { list: string[]; cwd: string }): Promise<void> {
  const keys = runKeys(run, ctx.prefix);
  if (inputs) {
    void countInputItems(inputs.list, inputs.cwd, progress.signal).then((n) => {
      if (n !== null) progress.estimateTotal(n);
    });
  }
  const [{ written }, lines] = await Promise.all([ledgerCounts(ctx.redis, keys), readLineCounts(ctx.redis, keys)]);
  progress.resumeFrom({ written, failed: lines.failed ?? 0, rejected: lines.rejected ?? 0 });
  progress.followTotal(async () => {
    const [{ items }, meta] = await Promise.all([ledgerCounts(ctx.redis, keys), loadRun(ctx.redis, run, ctx.prefix)]);
    return { items, exact: meta?.enqueueDone ?? false };
  });
}
