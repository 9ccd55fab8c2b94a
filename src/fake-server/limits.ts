/**
 * Server-enforced rate limits, so that respool's own limiter can be tested and benchmarked against a
 * server that pushes back the way a hosted provider does. Pure apart from its own state: the caller
 * passes the clock in, which keeps the unit tests free of real time.
 *
 * The window is a log of admitted calls (arrival time, running token total) in two parallel arrays
 * read from a head index. Trimming moves the head, the arrays are compacted once the dead prefix
 * dominates, and the token sum in the window is the difference of two running totals, so a check
 * is O(1) amortized, plus a binary search when a refusal needs its token wait. That keeps the fake
 * far from being the bottleneck at several thousand calls per second.
 */
import type { LimitOptions } from './types.js';

export const DEFAULT_WINDOW_MS = 60_000;
const MINUTE_MS = 60_000;
/**
 * Added to every wait the server announces. The window runs on a fractional clock while client
 * timers count whole milliseconds and may fire up to one early; without the extra millisecond a
 * client that waits exactly the announced time could arrive a hair too soon and be refused again.
 */
const TIMER_SLACK_MS = 1;
/** Expired entries are dropped from the arrays once there are at least this many and they are half. */
const COMPACT_AT = 4096;

export type LimitKind = 'requests' | 'tokens' | 'concurrency';

export interface Admitted {
  ok: true;
  /** Hand back to `release` when the call's response closes. */
  ticket: number;
  /** `x-ratelimit-*` headers for the reply (empty when no limits or headers are off). */
  headers: Readonly<Record<string, string>>;
  /** Requests and tokens in the window including this call (0 when no limits are set). */
  windowRequests: number;
  windowTokens: number;
}

export interface Refused {
  ok: false;
  /** Every limit the call would break, in the order requests, tokens, concurrency. */
  kinds: LimitKind[];
  message: string;
  /** Null when no wait helps: the call's token cost alone is over the allowance. */
  retryAfterMs: number | null;
  /** `retry-after-ms`, `retry-after` and (unless turned off) the `x-ratelimit-*` headers. */
  headers: Record<string, string>;
}

export type LimitDecision = Admitted | Refused;

interface Resolved {
  rpm: number | null;
  tpm: number | null;
  /** Allowances per window. */
  requests: number | null;
  tokens: number | null;
  windowMs: number;
  maxConcurrent: number | null;
  headers: boolean;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** What a per-minute rate allows per window, rounded down because calls and tokens come whole. */
export function allowance(perMinute: number, windowMs: number): number {
  // The epsilon keeps a product that is whole on paper (e.g. 0.3 * 200000 / 60000) from flooring to one less.
  return Math.floor((perMinute * windowMs) / MINUTE_MS + 1e-9);
}

/** A Go-style duration as OpenAI sends in `x-ratelimit-reset-*`: "0s", "250ms", "1.5s", "6m0s", "1h0m0s". */
export function formatDuration(ms: number): string {
  const total = Math.ceil(ms);
  if (!(total > 0)) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const secMs = total % 60_000;
  const s = secMs % 1000 === 0 ? String(secMs / 1000) : (secMs / 1000).toFixed(3).replace(/0+$/, '');
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Throws a RangeError naming the first bad field; used for the API, `/_options` and the CLI alike. */
export function checkLimitOptions(limits: LimitOptions): void {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) throw new RangeError('limits must be an object');
  for (const key of ['rpm', 'tpm'] as const) {
    const v = limits[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new RangeError(`limits.${key} must be a positive number`);
  }
  for (const key of ['windowMs', 'maxConcurrent'] as const) {
    const v = limits[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v > 0)) throw new RangeError(`limits.${key} must be a positive integer`);
  }
  if (limits.headers !== undefined && typeof limits.headers !== 'boolean') throw new RangeError('limits.headers must be true or false');
  // A limit that admits nothing in a window is a typo, not a test setup: every call would get 429 forever.
  const windowMs = limits.windowMs ?? DEFAULT_WINDOW_MS;
  if (limits.rpm !== undefined && allowance(limits.rpm, windowMs) < 1) {
    throw new RangeError(`limits.rpm ${limits.rpm} allows less than one request per ${windowMs} ms window (limits.windowMs)`);
  }
  if (limits.tpm !== undefined && allowance(limits.tpm, windowMs) < 1) {
    throw new RangeError(`limits.tpm ${limits.tpm} allows less than one token per ${windowMs} ms window (limits.windowMs)`);
  }
}

function resolve(limits: LimitOptions): Resolved {
  const windowMs = limits.windowMs ?? DEFAULT_WINDOW_MS;
  return {
    rpm: limits.rpm ?? null,
    tpm: limits.tpm ?? null,
    requests: limits.rpm === undefined ? null : allowance(limits.rpm, windowMs),
    tokens: limits.tpm === undefined ? null : allowance(limits.tpm, windowMs),
    windowMs,
    maxConcurrent: limits.maxConcurrent ?? null,
    headers: limits.headers ?? true,
  };
}

/** A wait as announced to clients: whole milliseconds, rounded up, plus the timer slack. */
function announce(waitMs: number): number {
  return waitMs > 0 ? Math.ceil(waitMs) + TIMER_SLACK_MS : 0;
}

export class RateLimiter {
  private limits: Resolved | null = null;
  /** Arrival times of admitted calls, oldest first; entries before `head` have left the window. */
  private times: number[] = [];
  /** `cumulative[i]`: tokens admitted up to and including entry i (since the window was cleared). */
  private cumulative: number[] = [];
  private head = 0;
  /** Tokens admitted in all (the last cumulative value) and in the entries before `head`. */
  private total = 0;
  private expired = 0;
  /**
   * Admitted calls whose response has not closed, with the time each is expected to finish. Kept
   * whether or not a limit is set, so that a concurrency cap set mid-run sees the calls already held.
   */
  private readonly busy = new Map<number, number>();
  private nextTicket = 1;

  constructor(limits?: LimitOptions) {
    this.configure(limits);
  }

  /** New limits (or none) with an empty window. Calls in flight stay counted. */
  configure(limits: LimitOptions | undefined): void {
    this.limits = limits ? resolve(limits) : null;
    this.clearWindow();
  }

  clearWindow(): void {
    this.times = [];
    this.cumulative = [];
    this.head = 0;
    this.total = 0;
    this.expired = 0;
  }

  get inFlight(): number {
    return this.busy.size;
  }

  /**
   * Admits or refuses a call arriving at `now` that costs `cost` tokens and is expected to be held
   * for `holdMs`. A refused call leaves no trace in the window, as with OpenAI, so clients that back
   * off are not punished for the calls they had to retry.
   */
  admit(now: number, cost: number, holdMs: number): LimitDecision {
    const l = this.limits;
    if (l === null) return this.enter(now + holdMs, NO_HEADERS, 0, 0);
    this.trim(now - l.windowMs);
    const count = this.times.length - this.head;
    const used = this.total - this.expired;
    const requestWait = this.requestWait(now, l, count);
    const tokenWait = this.tokenWait(now, l, used, cost);
    const full = l.maxConcurrent !== null && this.busy.size >= l.maxConcurrent;

    if (requestWait > 0 || tokenWait > 0 || full) return this.refuse(now, l, { count, used, cost, requestWait, tokenWait, full });

    this.times.push(now);
    this.total += cost;
    this.cumulative.push(this.total);
    const windowRequests = count + 1;
    const windowTokens = used + cost;
    const headers = l.headers
      ? this.rateHeaders(l, windowRequests, windowTokens, this.requestWait(now, l, windowRequests), this.tokenWait(now, l, windowTokens, cost))
      : NO_HEADERS;
    return this.enter(now + holdMs, headers, windowRequests, windowTokens);
  }

  release(ticket: number): void {
    this.busy.delete(ticket);
  }

  private enter(until: number, headers: Readonly<Record<string, string>>, windowRequests: number, windowTokens: number): Admitted {
    const ticket = this.nextTicket++;
    this.busy.set(ticket, until);
    return { ok: true, ticket, headers, windowRequests, windowTokens };
  }

  private refuse(
    now: number,
    l: Resolved,
    s: { count: number; used: number; cost: number; requestWait: number; tokenWait: number; full: boolean },
  ): Refused {
    const kinds: LimitKind[] = [];
    const parts: string[] = [];
    const per = `per ${formatDuration(l.windowMs)} window`;
    if (s.requestWait > 0) {
      kinds.push('requests');
      parts.push(`Rate limit reached for requests (${l.rpm} RPM): Limit ${l.requests} ${per}, Used ${s.count}, Requested 1.`);
    }
    if (s.tokenWait === Infinity) {
      kinds.push('tokens');
      parts.push(`Request too large for tokens (${l.tpm} TPM): Limit ${l.tokens} ${per}, Requested ${s.cost}. No wait makes it fit.`);
    } else if (s.tokenWait > 0) {
      kinds.push('tokens');
      parts.push(`Rate limit reached for tokens (${l.tpm} TPM): Limit ${l.tokens} ${per}, Used ${s.used}, Requested ${s.cost}.`);
    }
    let slotWait = 0;
    if (s.full) {
      kinds.push('concurrency');
      parts.push(`Too many concurrent requests: Limit ${l.maxConcurrent}, In flight ${this.busy.size}.`);
      slotWait = this.slotWait(now);
    }
    const wait = Math.max(s.requestWait, s.tokenWait, slotWait);
    // At least 1 ms: a full concurrency slot whose holder is already overdue still needs a moment.
    const retryAfterMs = wait === Infinity ? null : Math.max(1, announce(wait));
    if (retryAfterMs !== null) parts.push(`Please try again in ${formatDuration(retryAfterMs)}.`);
    const resetTokens = s.tokenWait === Infinity ? this.emptyWait(now, l) : s.tokenWait;
    const headers = l.headers ? this.rateHeaders(l, s.count, s.used, s.requestWait, resetTokens) : {};
    if (retryAfterMs !== null) {
      headers['retry-after-ms'] = String(retryAfterMs);
      headers['retry-after'] = String(Math.ceil(retryAfterMs / 1000));
    }
    return { ok: false, kinds, message: parts.join(' '), retryAfterMs, headers };
  }

  /**
   * OpenAI's header names and meanings: `limit` is the configured per-minute limit (RPM/TPM),
   * `remaining` what is left of the current window's allowance, `reset` the time until the window
   * has room for another call like this one (one request; this call's token cost), "0s" when it
   * already has. With the default 60000 ms window this is exactly what a real provider sends.
   */
  private rateHeaders(l: Resolved, requests: number, tokens: number, requestWait: number, tokenWait: number): Record<string, string> {
    const h: Record<string, string> = {};
    if (l.requests !== null) {
      h['x-ratelimit-limit-requests'] = String(l.rpm);
      h['x-ratelimit-remaining-requests'] = String(Math.max(0, l.requests - requests));
      h['x-ratelimit-reset-requests'] = formatDuration(announce(requestWait));
    }
    if (l.tokens !== null) {
      h['x-ratelimit-limit-tokens'] = String(l.tpm);
      h['x-ratelimit-remaining-tokens'] = String(Math.max(0, l.tokens - tokens));
      h['x-ratelimit-reset-tokens'] = formatDuration(announce(tokenWait));
    }
    return h;
  }

  /** Drops the entries that arrived at or before `cutoff`. */
  private trim(cutoff: number): void {
    const times = this.times;
    let head = this.head;
    while (head < times.length && times[head]! <= cutoff) head++;
    if (head === this.head) return;
    this.expired = this.cumulative[head - 1]!;
    this.head = head;
    if (head >= COMPACT_AT && head * 2 >= times.length) {
      this.times = times.slice(head);
      this.cumulative = this.cumulative.slice(head);
      this.head = 0;
    }
  }

  /** Time until one more request fits beside `count` in the window; 0 when it fits now. */
  private requestWait(now: number, l: Resolved, count: number): number {
    if (l.requests === null || count + 1 <= l.requests) return 0;
    // The oldest count + 1 - allowance entries have to leave; the last of them decides.
    return this.times[this.head + count - l.requests]! + l.windowMs - now;
  }

  /** Time until `cost` more tokens fit beside `used`; 0 when they fit now, Infinity when they never will. */
  private tokenWait(now: number, l: Resolved, used: number, cost: number): number {
    if (l.tokens === null) return 0;
    const excess = used + cost - l.tokens;
    if (excess <= 0) return 0;
    if (cost > l.tokens) return Infinity;
    // The first entry whose expiry frees at least `excess` tokens; the cumulative totals are sorted.
    const target = this.expired + excess;
    let lo = this.head;
    let hi = this.times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! >= target) hi = mid;
      else lo = mid + 1;
    }
    return this.times[lo]! + l.windowMs - now;
  }

  /** Time until the first held call is expected to finish. */
  private slotWait(now: number): number {
    let first = Infinity;
    for (const until of this.busy.values()) if (until < first) first = until;
    return first === Infinity ? 0 : Math.max(0, first - now);
  }

  /** Time until every entry has left the window. */
  private emptyWait(now: number, l: Resolved): number {
    const last = this.times.length - 1;
    return last >= this.head ? this.times[last]! + l.windowMs - now : 0;
  }
}
