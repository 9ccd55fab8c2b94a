/**
 * The logger every part of respool writes to. Only these four levels are used, each with a message
 * and, rarely, an object of fields (the progress events of `--log-json`), so any logger with these
 * methods fits: winston's (the command line's, src/cli/logger.ts), pino's, `console`, or a no-op one.
 */
export interface Logger {
  error(message: string, fields?: object): void;
  warn(message: string, fields?: object): void;
  info(message: string, fields?: object): void;
  debug(message: string, fields?: object): void;
}
