/**
 * Delay before the next attempt of one item.
 *
 * Without a server hint: exponential backoff `baseMs * 2^(attemptsMade-1)`, capped at `maxMs`, then
 * jittered to a random point in [50%, 100%] of that value. The upper half keeps a useful minimum wait,
 * the random part spreads out the many workers that hit the same 429 or outage at the same moment.
 *
 * With a server hint (Retry-After): never earlier than asked. A small random extra (up to
 * min(baseMs, 500) ms) is added so that workers told the same date do not all come back in one burst.
 * The hint is not cut to `maxMs`: waiting less than asked would only earn another 429 (parseRetryAfter
 * already caps hints at 10 minutes).
 */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Returns a number in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Upper bound of the extra wait added on top of a Retry-After hint. */
const RETRY_AFTER_SPREAD_MS = 500;

export function backoffDelayMs(attemptsMade: number, opts: BackoffOptions, retryAfterMs?: number | null): number {
  const random = opts.random ?? Math.random;
  // Clamp so that a misbehaving random source can not push the delay outside its documented bounds.
  const r = Math.min(Math.max(random(), 0), 1);
  const base = Math.max(0, opts.baseMs);

  if (retryAfterMs !== undefined && retryAfterMs !== null && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.ceil(retryAfterMs) + Math.floor(r * Math.min(base, RETRY_AFTER_SPREAD_MS));
  }

  const n = Math.max(1, Math.floor(attemptsMade));
  // 2^(n-1) overflows to Infinity for large n; Math.min then yields maxMs, which is what we want.
  const exp = Math.min(Math.max(0, opts.maxMs), base * 2 ** (n - 1));
  return Math.round(exp * (0.5 + 0.5 * r));
}
