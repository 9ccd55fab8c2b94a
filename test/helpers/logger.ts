import type { Logger } from '../../src/core/logger.js';

/**
 * A logger that keeps every message, at every level, as text: for tests that check what was logged,
 * or that a secret never was.
 */
export function recordingLogger(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const push = (m: string) => void messages.push(m);
  return { log: { error: push, warn: push, info: push, debug: push }, messages };
}
