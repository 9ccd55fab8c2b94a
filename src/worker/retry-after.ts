import type { ResponseHeaders } from './response-headers.js';

/**
 * How long a server asked us to wait before retrying. The OpenResponses spec defines no such header, so
 * this reads what deployed servers actually send: `retry-after-ms` (OpenAI, Azure), `Retry-After`
 * (RFC 9110: seconds or an HTTP date) and OpenAI's `x-ratelimit-reset-*` durations.
 */

/** Longer waits are cut to this: a broken or hostile header must not park a worker for hours. */
export const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/** A non-negative decimal number, nothing else (Number() alone would accept '', '0x10', '1e3'). */
const DECIMAL = /^\d+(\.\d+)?$|^\.\d+$/;

function cap(ms: number): number {
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

function parseDecimal(value: string | null): number | null {
  if (value === null) return null;
  const v = value.trim();
  return DECIMAL.test(v) ? Number(v) : null;
}

/** `Retry-After`: delay-seconds (fractions tolerated) or an HTTP date. A date in the past is ignored. */
function parseRetryAfterValue(value: string | null, now: number): number | null {
  if (value === null) return null;
  const seconds = parseDecimal(value);
  if (seconds !== null) return seconds * 1000;
  // Only try a date when it looks like one; Date.parse is lenient enough to accept '1' or '-5'.
  if (!/[a-z]/i.test(value)) return null;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  const ms = at - now;
  return ms >= 0 ? ms : null;
}

const DURATION_UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };

/**
 * A Go-style duration as OpenAI sends in `x-ratelimit-reset-*`: "1s", "6m0s", "250ms", "1h2m3.5s".
 * A bare number is rejected: other providers put epoch timestamps in similarly named headers.
 */
export function parseDuration(value: string | null): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (!/^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/.test(v)) return null;
  let total = 0;
  for (const match of v.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    total += Number(match[1]) * (DURATION_UNITS[match[2] ?? ''] ?? 0);
  }
  return total;
}

/**
 * True when the answer says the key has no requests or no tokens left in the provider's window
 * (OpenAI's `x-ratelimit-remaining-requests: 0` or `x-ratelimit-remaining-tokens: 0`).
 */
export function saysNothingLeft(headers: ResponseHeaders): boolean {
  return ['requests', 'tokens'].some((kind) => parseDecimal(headers.get(`x-ratelimit-remaining-${kind}`)) === 0);
}

/**
 * Milliseconds to wait before retrying, or null when the response gave no usable hint.
 * Precedence: `retry-after-ms`, then `Retry-After`, then the larger of `x-ratelimit-reset-requests` and
 * `x-ratelimit-reset-tokens` (only when neither retry-after header is usable). Capped at 10 minutes.
 */
export function parseRetryAfter(headers: ResponseHeaders, now: number = Date.now()): number | null {
  const ms = parseDecimal(headers.get('retry-after-ms'));
  if (ms !== null) return cap(ms);

  const retryAfter = parseRetryAfterValue(headers.get('retry-after'), now);
  if (retryAfter !== null) return cap(retryAfter);

  const resets = [parseDuration(headers.get('x-ratelimit-reset-requests')), parseDuration(headers.get('x-ratelimit-reset-tokens'))];
  const known = resets.filter((r): r is number => r !== null);
  return known.length > 0 ? cap(Math.max(...known)) : null;
}
