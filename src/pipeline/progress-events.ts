import type { OutputLine } from '../core/output-line.js';
import { ProgressTally } from './progress-tally.js';

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

/**
 * Turns the pipeline's progress into `RunProgress` events: one after each batch of lines written,
 * and one when the total becomes known. `stop()` ends the reading of the total.
 */
export class ProgressEvents extends ProgressTally {
  constructor(private readonly emit: (p: RunProgress) => void) {
    super();
  }

  override onLines(lines: OutputLine[]): void {
    super.onLines(lines);
    this.emit(this.figures());
  }

  override setTotal(items: number): void {
    super.setTotal(items);
    this.emit(this.figures());
  }

  /** The figures as recorded so far. */
  figures(): RunProgress {
    const total = this.shownTotal();
    return {
      written: this.written,
      total: total?.items ?? null,
      totalExact: total?.exact ?? false,
      failed: this.failed,
      rejected: this.rejected,
      rateLimited: this.rateLimited,
    };
  }
}
