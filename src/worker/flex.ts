/**
 * The flex tier's "resource unavailable" answers (docs/modes.md#flex). Such a 429 says the provider
 * has no flex capacity right now, not that the key is over its limits, and it is not billed: the
 * call waits (with backoff) and asks again, without pausing the key's budget, cutting its learned
 * rate, counting as a 429 or using an attempt. Once the item has been refused for `flex_fallback_ms`
 * since its first refusal (kept with its job, so across attempts and workers), it is sent at the
 * default tier. Pure: the caller passes the clock.
 */

/** What a flex call needs to know to wait or fall back; held per item by ./budgeted-call.ts. */
export interface FlexFallback {
  /** How long an item may be refused before it is sent at the default tier. */
  fallbackMs: number;
  /** The item's first refusal (epoch ms), from this or an earlier attempt; null when none yet. */
  refusedSince: number | null;
  /** Keeps the first refusal with the item, so that the wait counts across attempts and workers. */
  noteFirstRefusal(at: number): Promise<void>;
  /** Waits between refusals: `baseMs` doubling per refusal, at most `maxMs` (the run's backoff). */
  backoff: { baseMs: number; maxMs: number };
  /** The whole-call limit once sent at the default tier: the run's `timeout_ms`, not the longer flex one. */
  defaultTierTimeoutMs: number;
}

export type FlexStep = { fallBack: true } | { fallBack: false; waitMs: number };

/**
 * After the `refusals`-th refusal (1-based) of an item first refused at `refusedSince`: fall back to
 * the default tier when its time is up, else wait (the server's Retry-After, or the backoff), never
 * past the moment it falls back.
 */
export function flexNextStep(now: number, refusedSince: number, refusals: number, fallback: Pick<FlexFallback, 'fallbackMs' | 'backoff'>, retryAfterMs: number | null): FlexStep {
  const left = refusedSince + fallback.fallbackMs - now;
  if (left <= 0) return { fallBack: true };
  const backoff = Math.min(fallback.backoff.maxMs, fallback.backoff.baseMs * 2 ** Math.min(Math.max(0, refusals - 1), 20));
  return { fallBack: false, waitMs: Math.max(1, Math.min(retryAfterMs ?? backoff, left)) };
}

/** Whether an item first refused at `refusedSince` is past its wait already (it then starts at the default tier). */
export function flexTimeIsUp(now: number, refusedSince: number | null, fallbackMs: number): boolean {
  return refusedSince !== null && now - refusedSince >= fallbackMs;
}
