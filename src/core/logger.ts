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

/** A logger that drops everything: the library's default. */
export const silentLogger: Logger = Object.freeze({
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
});

/**
 * Wraps `log` so that no message carries one of `secrets` (the API key, a Redis password), whatever
 * the message holds. Values shorter than 4 characters are not hidden: they would mangle every line.
 */
export function redactingLogger(log: Logger, secrets: Array<string | undefined>): Logger {
  const hidden = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4);
  if (hidden.length === 0) return log;
  const clean = (message: string) => hidden.reduce((text, s) => text.split(s).join('[redacted]'), String(message));
  return {
    error: (m, fields) => log.error(clean(m), fields),
    warn: (m, fields) => log.warn(clean(m), fields),
    info: (m, fields) => log.info(clean(m), fields),
    debug: (m, fields) => log.debug(clean(m), fields),
  };
}
