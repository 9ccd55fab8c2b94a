/**
 * What respool logs through: four levels, one message each. The command line gives it a winston
 * logger (src/cli/logger.ts); a library user may give `console` or any object with these methods.
 */
export interface Logger {
  error(message: string): unknown;
  warn(message: string): unknown;
  info(message: string): unknown;
  debug(message: string): unknown;
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
    error: (m) => log.error(clean(m)),
    warn: (m) => log.warn(clean(m)),
    info: (m) => log.info(clean(m)),
    debug: (m) => log.debug(clean(m)),
  };
}
