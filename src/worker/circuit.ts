/**
 * The circuit breaker of a run: when its API calls keep failing for want of an answer (nothing
 * listens at the base URL, DNS fails, the gateway answers 5xx) with no answer in between, the run
 * stops early instead of spending every attempt of every item and writing a `failed` line for each.
 * The items not done keep no line, so running the same command again (after fixing the URL) resumes
 * them. The count of failures in a row lives with the run in Redis, so every worker on every machine
 * adds to it and any answer resets it (src/queue/run-meta.ts). Pure: no I/O.
 */
import { ApiCallError, NetworkError, RequestTimeoutError } from './errors.js';

/**
 * What one call tells the circuit. `answered`: any HTTP answer below 500 (a 2xx, and also a 4xx or a
 * 429: the API is there and talking). `unavailable`: no connection could be made or kept (refused,
 * reset, DNS, connect timeout), or a 5xx. `neutral`: a call that connected but timed out waiting for
 * its answer (a slow model is not a dead API: those ride out with retries), and what is not an API
 * call's outcome (an abort, a bug).
 */
export type CallSignal = 'answered' | 'unavailable' | 'neutral';

/** The signal of a call that ended with `err`, or with a 2xx answer (`null`). */
export function callSignal(err: unknown): CallSignal {
  if (err === null) return 'answered';
  if (!(err instanceof ApiCallError)) return 'neutral';
  if (err instanceof NetworkError) return 'unavailable';
  if (err instanceof RequestTimeoutError) return hasCode(err, CONNECT_TIMEOUT_CODES) ? 'unavailable' : 'neutral';
  if (err.status !== null) return err.status >= 500 ? 'unavailable' : 'answered';
  return 'neutral';
}

/** A timeout while connecting, from undici or the OS: nothing answered at the address. */
const CONNECT_TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

function hasCode(err: unknown, codes: Set<string>): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === 'string' && codes.has(e.code)) return true;
    // Happy-eyeballs connects fail with an AggregateError holding one error per address.
    if (Array.isArray(e.errors) && e.errors.some((inner) => hasCode(inner, codes))) return true;
    current = e.cause;
  }
  return false;
}

export interface Streak {
  /** Calls in a row, over every worker of the run, that could not connect or got a 5xx. */
  failures: number;
  /** Time from the first failure of the streak to this one, by the Redis clock. */
  spanMs: number;
}

/**
 * Open (the run stops) once `threshold` calls in a row failed, over at least `minSpanMs`: a burst of
 * first attempts failing at once (hundreds at a high concurrency, in a hiccup shorter than the first
 * retry delay) does not stop a run; failures that outlast a retry do. A threshold of 0 never opens.
 */
export function isOpen(streak: Streak, threshold: number, minSpanMs: number): boolean {
  return threshold > 0 && streak.failures >= threshold && streak.spanMs >= minSpanMs;
}

/** The run's stop reason: names the base URL (never the key), says what happened and what to do. */
export function unavailableReason(baseUrl: string, failuresInARow: number, lastError: string): string {
  return (
    `the API at ${baseUrl} could not be reached or answered only errors: ${failuresInARow} calls in a row failed (last: ${lastError}); ` +
    'items not done yet have no line: check the base URL (--base-url, OPENRESPONSES_BASE_URL or base_url) and that the API is up, then run the same command again to resume them'
  );
}
