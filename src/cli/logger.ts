import { Writable } from 'node:stream';
import { winston } from '../core/cjs-deps.js';
import type { Logger } from '../core/logger.js';

/** Kept for code that still takes the type from here; new code imports it from src/core/logger.ts. */
export type { Logger } from '../core/logger.js';

export interface LoggerOptions {
  level?: string;
  json?: boolean;
  /** Values that must never be printed, whatever a message contains (the API key). */
  secrets?: string[];
}

/**
 * Where log lines go: stderr, or, while a progress display holds the terminal, through the display,
 * which prints them above itself instead of into its line.
 */
let divertLines: ((text: string) => void) | null = null;

/** Routes every logger's lines through `print` until the returned function is called. */
export function divertLogLines(print: (text: string) => void): () => void {
  divertLines = print;
  return () => {
    if (divertLines === print) divertLines = null;
  };
}

const logOutput = new Writable({
  decodeStrings: false,
  write(chunk: string | Buffer, _encoding, done) {
    const text = String(chunk);
    if (divertLines) divertLines(text);
    else process.stderr.write(text);
    done();
  },
});

/** Logs go to stderr so that stdout stays free for machine-readable output (status --json). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = (opts.secrets ?? []).filter((s) => s.length >= 4);
  const redact = winston.format((info) => {
    if (secrets.length === 0) return info;
    for (const key of Object.keys(info)) {
      const v = info[key];
      if (typeof v === 'string') info[key] = secrets.reduce((acc, s) => acc.split(s).join('[redacted]'), v);
    }
    return info;
  });
  const format = opts.json
    ? winston.format.combine(redact(), winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
        redact(),
        winston.format.timestamp({ format: 'HH:mm:ss' }),
        winston.format.printf((info) => `${String(info.timestamp)} ${info.level.padEnd(5)} ${String(info.message)}`),
      );
  return winston.createLogger({
    level: opts.level ?? 'info',
    format,
    transports: [new winston.transports.Stream({ stream: logOutput, eol: '\n' })],
  });
}

/** For library code and tests that do not want output. */
export const silentLogger: Logger = createLogger({ level: 'error' });
