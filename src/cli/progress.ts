import type { createLogUpdate } from 'log-update';
import type { OutputLine } from '../core/output-line.js';
import { lineTotalNanos } from '../cost/compute.js';
import { recentRate } from '../report/rate.js';
import type { ProgressSample } from '../queue/line-stats.js';
import { divertLogLines, type CliLogger } from './logger.js';
import type { ProgressListener, TotalSource } from '../pipeline/progress.js';
import { plainLine, progressEvent, terminalLine, type ProgressFigures } from './progress-format.js';

/**
 * How progress is shown: a bar redrawn in place on a terminal (log lines print above it), a plain
 * log line every `logEveryMs` when stderr is not a terminal, a JSON event as often with --log-json.
 */
export type ProgressMode = 'terminal' | 'plain' | 'json';

export interface ProgressOptions {
  /** Default: json with `json`, else terminal when the stream is a TTY, else plain. */
  mode?: ProgressMode;
  json?: boolean;
  stream?: NodeJS.WriteStream;
  /** Plain and JSON: how often a line is logged. */
  logEveryMs?: number;
}

/** How often a line is logged when stderr is not a terminal (documented in the README). */
export const PLAIN_EVERY_MS = 10_000;
const REDRAW_EVERY_MS = 250;
/** The rate is measured over this much recent time. */
const RATE_WINDOW_MS = 10_000;
const FOLLOW_EVERY_MS = 2_000;


/**
 * Progress of a run. Counts cover the whole run: the lines written before this process started
 * (`resumeFrom`) plus those its collector writes (`onLines`).
 */
export class Progress implements ProgressListener {
  readonly mode: ProgressMode;
  private readonly stream: NodeJS.WriteStream;
  private readonly started = Date.now();
  private local = { done: 0, failed: 0, rejected: 0, costNanos: 0 };
  private before = { done: 0, failed: 0, rejected: 0 };
  private total: { items: number; exact: boolean } | null = null;
  private estimate: number | null = null;
  private samples: ProgressSample[] = [];
  private rateLimited: () => number = () => 0;
  private timer: NodeJS.Timeout | null = null;
  private follower: NodeJS.Timeout | null = null;
  private frame: ReturnType<typeof createLogUpdate> | null = null;
  private undivert: (() => void) | null = null;
  private readonly stopped = new AbortController();

  constructor(
    private readonly log: CliLogger,
    private readonly opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.mode = opts.mode ?? (opts.json ? 'json' : this.stream.isTTY ? 'terminal' : 'plain');
  }

  /** Aborted when the display stops: for work done only for it (counting the inputs). */
  get signal(): AbortSignal {
    return this.stopped.signal;
  }

  start(): void {
    if (this.timer) return;
    if (this.mode === 'terminal') void this.startFrame();
    this.timer = setInterval(() => this.tick(), this.mode === 'terminal' ? REDRAW_EVERY_MS : (this.opts.logEveryMs ?? PLAIN_EVERY_MS));
    this.timer.unref();
  }

  /** log-update is loaded only for a terminal (commands without a bar start without it). */
  private async startFrame(): Promise<void> {
    const { createLogUpdate } = await import('log-update');
    if (!this.timer) return;
    this.frame = createLogUpdate(this.stream, { showCursor: true });
    this.undivert = divertLogLines((text) => this.printAbove(text));
    this.redraw();
  }

  /** Where to read how many calls were answered 429 so far. */
  countRateLimited(source: () => number): void {
    this.rateLimited = source;
  }

  /**
   * What the run had when this process looked (a resumed run's earlier lines). Lines this process
   * already reported are in those figures too, so they are taken off.
   */
  resumeFrom(run: { written: number; failed: number; rejected: number }): void {
    this.before = {
      done: Math.max(0, run.written - this.local.done),
      failed: Math.max(0, run.failed - this.local.failed),
      rejected: Math.max(0, run.rejected - this.local.rejected),
    };
  }

  /** Items counted ahead of the reader; shown (marked ~) until the run's own count is exact. */
  estimateTotal(items: number): void {
    this.estimate = items;
  }

  setTotal(items: number): void {
    this.total = { items, exact: true };
  }

  /** Reads the run's item count every 2 s while the display runs. */
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

  onLines(lines: OutputLine[]): void {
    for (const l of lines) {
      this.local.done++;
      if (l.status === 'failed') this.local.failed++;
      if (l.status === 'rejected') this.local.rejected++;
      this.local.costNanos += lineTotalNanos(l.cost) ?? 0;
    }
  }

  figures(now = Date.now()): ProgressFigures {
    const done = this.before.done + this.local.done;
    this.samples.push({ t: now, written: this.local.done });
    this.samples = this.samples.filter((s, i) => i === this.samples.length - 1 || now - s.t <= RATE_WINDOW_MS * 2);
    // Until a full window has passed, the rate is measured from the start.
    const rate = now - this.started >= RATE_WINDOW_MS ? recentRate(this.samples, this.local.done, now, RATE_WINDOW_MS) : recentRate([{ t: this.started, written: 0 }], this.local.done, now);
    const total = this.shownTotal();
    return {
      done,
      total: total?.items ?? null,
      totalIsEstimate: total !== null && !total.exact,
      failed: this.before.failed + this.local.failed,
      rejected: this.before.rejected + this.local.rejected,
      rateLimited: this.rateLimited(),
      costNanos: this.local.costNanos,
      resumedFrom: this.before.done,
      rate,
      elapsedMs: now - this.started,
    };
  }

  /** The ledger's count once exact; before, the larger of it and the count of the inputs. */
  private shownTotal(): { items: number; exact: boolean } | null {
    if (this.total?.exact) return this.total;
    const counts = [this.total?.items, this.estimate].filter((n): n is number => n !== undefined && n !== null);
    return counts.length === 0 ? null : { items: Math.max(...counts), exact: false };
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    if (this.follower) clearInterval(this.follower);
    this.follower = null;
    this.stopped.abort();
    if (this.mode !== 'terminal') this.tick();
    else if (this.frame) {
      this.redraw();
      this.frame.done();
      this.frame = null;
      this.undivert?.();
      this.undivert = null;
    }
  }

  private tick(): void {
    if (this.mode === 'terminal') this.redraw();
    else if (this.mode === 'json') this.log.info('progress', progressEvent(this.figures()));
    else this.log.info(plainLine(this.figures()));
  }

  private redraw(): void {
    this.frame?.(terminalLine(this.figures(), this.stream.columns ?? 80));
  }

  /** A log line while the bar is shown: it goes above the bar, which is drawn again below it. */
  private printAbove(text: string): void {
    if (!this.frame) {
      this.stream.write(text);
      return;
    }
    this.frame.persist(text.replace(/\n$/, ''));
    this.redraw();
  }
}
