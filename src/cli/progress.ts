import type { createLogUpdate } from 'log-update';
import { recentRate } from '../report/rate.js';
import type { ProgressSample } from '../queue/line-stats.js';
import { divertLogLines, type CliLogger } from './logger.js';
import { ProgressTally } from '../pipeline/progress-tally.js';
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


/**
 * Progress of a run. Counts cover the whole run: the lines written before this process started
 * (`resumeFrom`) plus those its collector writes (`onLines`).
 */
export class Progress extends ProgressTally {
  readonly mode: ProgressMode;
  private readonly stream: NodeJS.WriteStream;
  private readonly started = Date.now();
  private samples: ProgressSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private frame: ReturnType<typeof createLogUpdate> | null = null;
  private undivert: (() => void) | null = null;

  constructor(
    private readonly log: CliLogger,
    private readonly opts: ProgressOptions = {},
  ) {
    super();
    this.stream = opts.stream ?? process.stderr;
    this.mode = opts.mode ?? (opts.json ? 'json' : this.stream.isTTY ? 'terminal' : 'plain');
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

  figures(now = Date.now()): ProgressFigures {
    this.samples.push({ t: now, written: this.local.written });
    this.samples = this.samples.filter((s, i) => i === this.samples.length - 1 || now - s.t <= RATE_WINDOW_MS * 2);
    // Until a full window has passed, the rate is measured from the start.
    const rate = now - this.started >= RATE_WINDOW_MS ? recentRate(this.samples, this.local.written, now, RATE_WINDOW_MS) : recentRate([{ t: this.started, written: 0 }], this.local.written, now);
    const total = this.shownTotal();
    return {
      done: this.written,
      total: total?.items ?? null,
      totalIsEstimate: total !== null && !total.exact,
      failed: this.failed,
      rejected: this.rejected,
      rateLimited: this.rateLimited,
      costNanos: this.local.costNanos,
      resumedFrom: this.before.written,
      rate,
      elapsedMs: now - this.started,
    };
  }

  override stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    super.stop();
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
