import type { OutputLine } from '../core/output-line.js';
import type { Logger } from './logger.js';

/**
 * Progress of a run: a line rewritten in place on a terminal, a log line every `logEveryMs` otherwise.
 * Counts come from the lines the collector writes, so they are the truth about the results file.
 */
export class Progress {
  private done = 0;
  private failed = 0;
  private rejected = 0;
  private total: number | null = null;
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private readonly tty: boolean;
  private readonly recent: Array<{ t: number; done: number }> = [];

  constructor(
    private readonly log: Logger,
    private readonly opts: { logEveryMs?: number; stream?: NodeJS.WriteStream } = {},
  ) {
    this.tty = Boolean((opts.stream ?? process.stderr).isTTY);
  }

  start(): void {
    const every = this.tty ? 500 : (this.opts.logEveryMs ?? 10_000);
    this.timer = setInterval(() => this.print(), every);
    this.timer.unref();
  }

  private rateLimited: () => number = () => 0;

  /** Where to read how many calls were answered 429 so far. */
  countRateLimited(source: () => number): void {
    this.rateLimited = source;
  }

  setTotal(total: number): void {
    this.total = total;
  }

  onLines(lines: OutputLine[]): void {
    for (const l of lines) {
      this.done++;
      if (l.status === 'failed') this.failed++;
      if (l.status === 'rejected') this.rejected++;
    }
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    if (this.tty) (this.opts.stream ?? process.stderr).write('\n');
  }

  line(): string {
    const now = Date.now();
    this.recent.push({ t: now, done: this.done });
    while (this.recent.length > 1 && now - this.recent[0]!.t > 10_000) this.recent.shift();
    const first = this.recent[0]!;
    const span = (now - first.t) / 1000;
    const rate = span > 0 ? (this.done - first.done) / span : this.done / Math.max(0.001, (now - this.started) / 1000);
    const total = this.total === null ? '?' : String(this.total);
    const eta = this.total !== null && rate > 0 ? ` ETA ${formatDuration((this.total - this.done) / rate)}` : '';
    const limited = this.rateLimited();
    return `done ${this.done}/${total} (failed ${this.failed}, rejected ${this.rejected}${limited ? `, ${limited} answered 429` : ''}) ${rate.toFixed(1)} items/s${eta}`;
  }

  private print(): void {
    const text = this.line();
    if (this.tty) (this.opts.stream ?? process.stderr).write(`\r\x1b[K${text}`);
    else this.log.info(text);
  }
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 90) return `${Math.ceil(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
