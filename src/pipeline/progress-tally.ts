import type { OutputLine } from '../core/output-line.js';
import { lineTotalNanos } from '../cost/compute.js';
import type { ProgressListener, TotalSource } from './progress.js';

/** How often the run's item count is read while its inputs are still being enqueued. */
const FOLLOW_EVERY_MS = 2_000;

/**
 * The counting behind every progress listener (the command line's bar, the library's `onProgress`):
 * the lines written before this process started (`resumeFrom`) plus those its collector writes
 * (`onLines`), and the run's total, counted ahead of the reader until the run's own count is exact.
 */
export class ProgressTally implements ProgressListener {
  /** Lines this process wrote, and what they cost. */
  protected readonly local = { written: 0, failed: 0, rejected: 0, costNanos: 0 };
  /** What the run had when this process looked, less what this process had already counted. */
  protected before = { written: 0, failed: 0, rejected: 0 };
  private total: { items: number; exact: boolean } | null = null;
  private estimate: number | null = null;
  private rateLimitedSource: () => number = () => 0;
  private follower: NodeJS.Timeout | null = null;
  private readonly stopped = new AbortController();

  get signal(): AbortSignal {
    return this.stopped.signal;
  }

  onLines(lines: OutputLine[]): void {
    for (const l of lines) {
      this.local.written++;
      if (l.status === 'failed') this.local.failed++;
      if (l.status === 'rejected') this.local.rejected++;
      this.local.costNanos += lineTotalNanos(l.cost) ?? 0;
    }
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
    this.rateLimitedSource = source;
  }

  stop(): void {
    if (this.follower) clearInterval(this.follower);
    this.follower = null;
    this.stopped.abort();
  }

  protected get written(): number {
    return this.before.written + this.local.written;
  }

  protected get failed(): number {
    return this.before.failed + this.local.failed;
  }

  protected get rejected(): number {
    return this.before.rejected + this.local.rejected;
  }

  protected get rateLimited(): number {
    return this.rateLimitedSource();
  }

  /** The ledger's count once exact; before, the larger of it and the count made ahead of the reader. */
  protected shownTotal(): { items: number; exact: boolean } | null {
    if (this.total?.exact) return this.total;
    const counts = [this.total?.items, this.estimate].filter((n): n is number => n !== undefined && n !== null);
    return counts.length === 0 ? null : { items: Math.max(...counts), exact: false };
  }
}
