import type { OutputLine } from '../core/output-line.js';
import type { ProgressListener, TotalSource } from './progress.js';

/** A run's progress as the library reports it to `onProgress`. Counts cover the whole run. */
export interface RunProgress {
  /** Lines in the results file, a resumed run's earlier lines included. */
  written: number;
  /** Items of the run when known: counted ahead of the reader until `totalExact`. */
  total: number | null;
  /** True once every input was read and `total` is the run's own count. */
  totalExact: boolean;
  /** Lines with status `failed` so far. */
  failed: number;
  /** Lines with status `rejected` so far. */
  rejected: number;
  /** Calls of this process answered 429 so far. */
  rateLimited: number;
}

/** How often the run's item count is read while its inputs are still being enqueued. */
const FOLLOW_EVERY_MS = 2000;

/**
 * Turns the pipeline's progress into `RunProgress` events: one after each batch of lines written,
 * and one when the total becomes known. `stop()` ends the reading of the total.
 */
export class ProgressEvents implements ProgressListener {
  private readonly stopped = new AbortController();
  private before = { written: 0, failed: 0, rejected: 0 };
  private local = { written: 0, failed: 0, rejected: 0 };
  private estimate: number | null = null;
  private total: { items: number; exact: boolean } | null = null;
  private rateLimited: () => number = () => 0;
  private follower: NodeJS.Timeout | null = null;

  constructor(private readonly emit: (p: RunProgress) => void) {}

  get signal(): AbortSignal {
    return this.stopped.signal;
  }

  onLines(lines: OutputLine[]): void {
    for (const l of lines) {
      this.local.written++;
      if (l.status === 'failed') this.local.failed++;
      if (l.status === 'rejected') this.local.rejected++;
    }
    this.send();
  }

  resumeFrom(run: { written: number; failed: number; rejected: number }): void {
    // Lines this process already reported are in the run's figures too.
    this.before = {
      written: Math.max(0, run.written - this.local.written),
      failed: Math.max(0, run.failed - this.local.failed),
      rejected: Math.max(0, run.rejected - this.local.rejected),
    };
  }

  estimateTotal(items: number): void {
    this.estimate = items;
  }

  setTotal(items: number): void {
    this.total = { items, exact: true };
    this.send();
  }

  followTotal(source: TotalSource): void {
    const read = () => {
      source()
        .then((t) => {
          if (!this.total?.exact) this.total = t;
        })
        .catch(() => {});
    };
    read();
    this.follower = setInterval(read, FOLLOW_EVERY_MS);
    this.follower.unref();
  }

  countRateLimited(source: () => number): void {
    this.rateLimited = source;
  }

  stop(): void {
    if (this.follower) clearInterval(this.follower);
    this.follower = null;
    this.stopped.abort();
  }

  /** The figures as recorded so far. */
  figures(): RunProgress {
    const total = this.shownTotal();
    return {
      written: this.before.written + this.local.written,
      total: total?.items ?? null,
      totalExact: total?.exact ?? false,
      failed: this.before.failed + this.local.failed,
      rejected: this.before.rejected + this.local.rejected,
      rateLimited: this.rateLimited(),
    };
  }

  /** The ledger's count once exact; before, the larger of it and the count made ahead of the reader. */
  private shownTotal(): { items: number; exact: boolean } | null {
    if (this.total?.exact) return this.total;
    const counts = [this.total?.items, this.estimate].filter((n): n is number => n !== undefined && n !== null);
    return counts.length === 0 ? null : { items: Math.max(...counts), exact: false };
  }

  private send(): void {
    this.emit(this.figures());
  }
}
