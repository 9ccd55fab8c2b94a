/**
 * The circuit breaker of a run: when its API calls keep failing for want of an answer (nothing
 * listens at the base URL, DNS fails, the gateway answers 5xx) with no answer in between, the run
 * stops early instead of spending every attempt of every item and writing a `failed` line for each.
 * The items not done keep no line, so running the same command again (after fixing the URL) resumes
 * them. The count of failures in a row lives with the run in Redis, so every worker on every machine
 * adds to it and any answer resets it (src/queue/run-meta.ts). Pure: no I/O.
 */
import { ApiCallError, NetworkError, RequestTimeoutError, ServerError } from './errors.js';

/**
 * What one call tells the circuit. `answered`: a 2xx. `unavailable`: no connection, no answer in
 * time, or a 5xx. `neutral`: the API answered, but not with success (4xx, 429, a response that
 * failed): it is reachable, and those errors have their own handling.
 */
export type CallSignal = 'answered' | 'unavailable' | 'neutral';

/** The signal of a call that ended with `err`, or with an answer (`null`). */
export function callSignal(err: unknown): CallSignal {
  if (err === null) return 'answered';
  if (!(err instanceof ApiCallError)) return 'neutral';
  if (err instanceof NetworkError || err instanceof RequestTimeoutError) return 'unavailable';
  if (err instanceof ServerError && err.status !== null && err.status >= 500) return 'unavailable';
  return 'neutral';
}

/** Open (the run stops) once `threshold` calls in a row failed; a threshold of 0 never opens. */
export function isOpen(failuresInARow: number, threshold: number): boolean {
  return threshold > 0 && failuresInARow >= threshold;
}

/** The run's stop reason: names the base URL (never the key), says what happened and what to do. */
export function unavailableReason(baseUrl: string, failuresInARow: number, lastError: string): string {
  return (
    `the API at ${baseUrl} could not be reached or answered only errors: ${failuresInARow} calls in a row failed (last: ${lastError}); ` +
    'items not done yet have no line: check the base URL (--base-url, OPENRESPONSES_BASE_URL or base_url) and that the API is up, then run the same command again to resume them'
  );
}
