/** The `on_complete` webhook: one JSON POST of the run's summary, retried a little, never fatal. */
import { NIGHTLY_DEFAULTS } from '../config/defaults.js';
import { sleep } from '../core/sleep.js';
import type { Logger } from '../cli/logger.js';

const ATTEMPTS = 3;

/** Returns the HTTP status of the last answer, or null when none came. */
export async function postSummary(url: string, summary: unknown, log: Logger, timeoutMs = NIGHTLY_DEFAULTS.webhookTimeoutMs): Promise<number | null> {
  // The URL may hold a token in its query: logs show only where it goes.
  const where = safeTarget(url);
  let status: number | null = null;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'respool' },
        body: JSON.stringify(summary),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      status = res.status;
      if (res.ok) {
        log.info(`on_complete: POST to ${where} answered ${res.status}`);
        return status;
      }
      // A 4xx will not get better by asking again.
      if (res.status < 500 && res.status !== 429) break;
    } catch (err) {
      log.warn(`on_complete: POST to ${where} failed: ${(err as Error).message}`);
    }
    if (attempt < ATTEMPTS) await sleep(1000 * attempt);
  }
  log.warn(`on_complete: POST to ${where} did not succeed${status === null ? '' : ` (last answer ${status})`}; the results file is written`);
  return status;
}

function safeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the webhook';
  }
}
