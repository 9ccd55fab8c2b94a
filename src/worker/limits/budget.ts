import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { luaCommands } from '../../queue/lua-commands.js';
import type { BudgetUse } from './on-429.js';

/**
 * The request and token budget of one API key (with one base URL and model), shared by every worker
 * process on every machine through one Redis hash. All decisions are made in Lua with Redis' own
 * clock, so machines with skewed clocks still share one budget.
 *
 * Pacing is GCRA (a virtual scheduling form of the token bucket with no burst): a request is admitted
 * when the "theoretical arrival time" of both the request and token schedules has come, and each
 * admission moves them on by its cost. With no burst, the calls of any window W number at most
 * W/interval + 1; the intervals are stretched by a small margin so that this stays within what a
 * provider's sliding window allows.
 */

export interface Limits {
  rpm?: number;
  tpm?: number;
  maxInFlight?: number;
}

export type AcquireResult = { granted: true } | { granted: false; waitMs: number; reason: 'paused' | 'in_flight' | 'rpm' | 'tpm' };

export interface BudgetSnapshot {
  key: string;
  rpm: number | null;
  tpm: number | null;
  maxInFlight: number | null;
  /** Requests per minute the adaptive mode currently allows (no rpm configured), or null. */
  adaptiveRpm: number | null;
  /** Per-minute limits the provider announced in its headers, or null. */
  announcedRpm: number | null;
  announcedTpm: number | null;
  inFlight: number;
  pausedForMs: number;
  requests: number;
  tokens: number;
  rateLimited: number;
  /** Times every worker of the key was paused (a 429 of a key out of budget, or "nothing left" headers). */
  pauses: number;
  /** Over the last complete 10 s window, scaled to a minute. */
  recentRpm: number;
  recentTpm: number;
}

/** Room above a limit's exact pace, so that the "+1" of a sliding window never tips it over. */
export const REQUEST_MARGIN = 0.02;
export const TOKEN_MARGIN = 0.03;
/** An in-flight lease expires on its own after this long, so a dead worker cannot hold slots forever. */
const LEASE_MS = 15 * 60_000;
/** Adaptive mode: how fast the allowed rate grows while no 429 comes back, and how hard a 429 cuts it. */
export const ADAPTIVE_GROWTH_PER_S = 0.05;
export const ADAPTIVE_CUT = 0.8;
/** Adaptive mode never goes below this many requests per minute, and cuts at most once a second. */
export const ADAPTIVE_FLOOR_RPM = 6;
const ADAPTIVE_CUT_EVERY_MS = 1000;

// Shared by the scripts: the current time in ms from Redis, and the rolling 10 s counters.
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(field, default)
  local v = redis.call('HGET', KEYS[1], field)
  if v then return tonumber(v) end
  return default
end
local function roll()
  local ws = num('win_start', now)
  if now - ws >= 10000 then
    redis.call('HSET', KEYS[1], 'last_req', num('win_req', 0), 'last_tok', num('win_tok', 0), 'last_ms', now - ws,
      'win_start', now, 'win_req', 0, 'win_tok', 0)
  elseif not redis.call('HGET', KEYS[1], 'win_start') then
    redis.call('HSET', KEYS[1], 'win_start', now)
  end
end
`;

// KEYS: budget hash, in-flight zset. ARGV: rpm, tpm, maxInFlight (0 = none), token cost, lease id,
// lease ms, adaptive (1/0). Returns {1, 0, 'ok'} when admitted, else {0, wait ms, reason}. (Redis
// truncates Lua numbers to integers in replies: a wait of 0.4 ms would read as 0, hence the flag.)
const ACQUIRE_LUA = `${PRELUDE}
local rpm, tpm, maxf, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local adaptive = ARGV[7] == '1'
roll()
local pause = num('pause_until', 0)
if pause > now then return {0, math.ceil(pause - now), 'paused'} end
if maxf > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= maxf then return {0, 20, 'in_flight'} end
end
-- Limits the provider announced (x-ratelimit-limit-*) stand in for the ones not configured.
if rpm <= 0 then rpm = num('hdr_rpm', 0) end
if tpm <= 0 then tpm = num('hdr_tpm', 0) end
if rpm <= 0 and adaptive then
  local a = num('arpm', 0)
  if a > 0 then
    -- The allowed rate grows by a fixed share for every whole second without a 429 (compounding).
    local last = num('arpm_at', now)
    if now - last >= 1000 then
      a = a * (1 + ${ADAPTIVE_GROWTH_PER_S} * math.floor((now - last) / 1000))
      redis.call('HSET', KEYS[1], 'arpm', a, 'arpm_at', now)
    end
    rpm = a
  end
end
local tat_r = math.max(num('tat_r', now), now)
local tat_t = math.max(num('tat_t', now), now)
if rpm > 0 and tat_r > now then return {0, math.ceil(tat_r - now), 'rpm'} end
if tpm > 0 and tat_t > now then return {0, math.ceil(tat_t - now), 'tpm'} end
if rpm > 0 then redis.call('HSET', KEYS[1], 'tat_r', tat_r + (60000 / rpm) * (1 + ${REQUEST_MARGIN})) end
if tpm > 0 then
  -- Tokens reserved earlier and not used (estimates are on the high side) pay for part of this call.
  local credit = num('credit_t', 0)
  local charged = math.max(0, cost - credit)
  redis.call('HSET', KEYS[1], 'credit_t', credit - (cost - charged), 'tat_t', tat_t + charged * (60000 / tpm) * (1 + ${TOKEN_MARGIN}))
end
if maxf > 0 then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[5]) end
redis.call('HINCRBY', KEYS[1], 'n_req', 1)
redis.call('HINCRBY', KEYS[1], 'win_req', 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
return {1, 0, 'ok'}
`;

// After the answer: release the lease and replace the estimate by what the call really cost.
// ARGV: lease id, estimated tokens, actual tokens (-1 when unknown), tpm.
const SETTLE_LUA = `${PRELUDE}
redis.call('ZREM', KEYS[2], ARGV[1])
local est, actual, tpm = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if tpm <= 0 then tpm = num('hdr_tpm', 0) end
if actual < 0 then actual = est end
if tpm > 0 and actual ~= est then
  local per_token = (60000 / tpm) * (1 + ${TOKEN_MARGIN})
  local tat_t = num('tat_t', now) + (actual - est) * per_token
  if tat_t < now then
    -- The schedule cannot move into the past (that would allow a burst), so what the estimate
    -- over-counted becomes credit for the next calls instead of being lost. Bounded, so that an idle
    -- budget does not save up a burst either.
    local credit = math.min(num('credit_t', 0) + (now - tat_t) / per_token, est * 4)
    redis.call('HSET', KEYS[1], 'credit_t', credit)
    tat_t = now
  end
  redis.call('HSET', KEYS[1], 'tat_t', tat_t)
end
roll()
redis.call('HINCRBY', KEYS[1], 'n_tok', actual)
redis.call('HINCRBY', KEYS[1], 'win_tok', actual)
return 1
`;

// Calls admitted by a process on its own (no limit enforced) reach the counters in Redis late; a 429
// or a pause adds them first, so that the rates it reads or cuts from are the real ones.
const ADD_UNFLUSHED = `
local function add_unflushed(n)
  if n > 0 then
    redis.call('HINCRBY', KEYS[1], 'n_req', n)
    redis.call('HINCRBY', KEYS[1], 'win_req', n)
  end
end
`;

// A 429: count it, and tell the caller what the key's budget looks like, so that it can decide whether
// the key is out of budget. ARGV: lease id, calls admitted locally and not yet counted. Returns the
// requests and tokens of the current and the previous 10 s window, their span in ms, the rpm and tpm
// the API announced, and the rate at which sustained 429s last cut the learned rate (0: none).
const NOTE_429_LUA = `${PRELUDE}${ADD_UNFLUSHED}
redis.call('ZREM', KEYS[2], ARGV[1])
roll()
add_unflushed(tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'n_429', 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
local span = math.max(now - num('win_start', now) + num('last_ms', 0), 1000)
return {num('win_req', 0) + num('last_req', 0), num('win_tok', 0) + num('last_tok', 0), span, num('hdr_rpm', 0), num('hdr_tpm', 0), num('hit_rpm', 0)}
`;

// The key is out of budget (a 429 that says so, or "no requests left" headers): every worker of this
// key waits until the given time. When told to, the learned rate is cut, starting from the rate
// actually reached when first limited.
// ARGV: lease id, pause ms, cut the learned rate (1/0), count as 429 (1/0), calls admitted locally and not yet counted.
const LIMITED_LUA = `${PRELUDE}${ADD_UNFLUSHED}
redis.call('ZREM', KEYS[2], ARGV[1])
roll()
add_unflushed(tonumber(ARGV[5]))
local until_ms = now + tonumber(ARGV[2])
if until_ms > num('pause_until', 0) then redis.call('HSET', KEYS[1], 'pause_until', until_ms) end
redis.call('HINCRBY', KEYS[1], 'n_pause', 1)
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'n_429', 1) end
if ARGV[3] == '1' then
  local a = num('arpm', 0)
  local cut_at = num('arpm_cut_at', 0)
  -- One cut per pause (and at most one a second): the other calls in flight when the limit was hit
  -- report the same event.
  if now >= cut_at then
    local span = math.max(now - num('win_start', now) + num('last_ms', 0), 1000)
    local reached = (num('win_req', 0) + num('last_req', 0)) * 60000 / span
    if a <= 0 then a = reached end
    a = math.max(${ADAPTIVE_FLOOR_RPM}, a * ${ADAPTIVE_CUT})
    -- The rate that met the limit: a later 429 near it is taken as the same limit (see on-429.ts).
    redis.call('HSET', KEYS[1], 'arpm', a, 'arpm_at', until_ms, 'arpm_cut_at', math.max(until_ms, now + ${ADAPTIVE_CUT_EVERY_MS}), 'hit_rpm', reached)
  end
end
return 1
`;

const SNAPSHOT_LUA = `${PRELUDE}
roll()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return {now, redis.call('ZCARD', KEYS[2]), redis.call('HGETALL', KEYS[1])}
`;

interface BudgetCommands {
  respoolAcquire(budget: string, inFlight: string, ...args: string[]): Promise<[number, number, string]>;
  respoolSettle(budget: string, inFlight: string, ...args: string[]): Promise<number>;
  respoolLimited(budget: string, inFlight: string, ...args: string[]): Promise<number>;
  respoolNote429(budget: string, inFlight: string, ...args: string[]): Promise<[number, number, number, number, number, number]>;
  respoolBudgetSnapshot(budget: string, inFlight: string): Promise<[number, number, string[]]>;
}

function commands(redis: Redis): BudgetCommands {
  return luaCommands<BudgetCommands>(redis, {
    respoolAcquire: { keys: 2, lua: ACQUIRE_LUA },
    respoolSettle: { keys: 2, lua: SETTLE_LUA },
    respoolLimited: { keys: 2, lua: LIMITED_LUA },
    respoolNote429: { keys: 2, lua: NOTE_429_LUA },
    respoolBudgetSnapshot: { keys: 2, lua: SNAPSHOT_LUA },
  });
}

/**
 * Budgets are keyed by a hash of the base URL, the API key and the model: the key itself never
 * reaches Redis, and two runs on the same key share one budget, as the provider counts them.
 */
export function budgetId(baseUrl: string, apiKey: string | undefined, model: string): string {
  // The client drops trailing slashes; so does the budget, or `/v1` and `/v1/` would be two budgets.
  return createHash('sha256').update(baseUrl.replace(/\/+$/, '')).update('\0').update(apiKey ?? '').update('\0').update(model).digest('hex').slice(0, 24);
}

export function budgetKeys(prefix: string, id: string): { hash: string; inFlight: string } {
  return { hash: `${prefix}:budget:${id}`, inFlight: `${prefix}:budget:${id}:inflight` };
}

/** How stale a process' view of an unenforced budget may be (pause and learned rate) before it asks Redis. */
const VIEW_MS = 200;

export class Budget {
  private readonly keys: { hash: string; inFlight: string };
  /** With no limit configured, nothing needs Redis per call until a 429 teaches a rate. */
  private readonly enforcing: boolean;
  private view = { at: 0, pausedUntil: 0, learnedRpm: 0 };
  private viewing: Promise<void> | null = null;
  private unflushed = { requests: 0, tokens: 0 };
  private flushTimer: NodeJS.Timeout | null = null;
  /**
   * A pause this process decided and may not have written to Redis yet: its own calls stop at once,
   * instead of going on (and collecting 429s) for the round trips the shared pause takes.
   */
  private localPauseUntil = 0;

  constructor(
    private readonly redis: Redis,
    readonly id: string,
    readonly limits: Limits,
    /** No rpm configured: learn one from 429s (AIMD). */
    readonly adaptive: boolean,
    prefix: string,
  ) {
    this.keys = budgetKeys(prefix, id);
    this.enforcing = Boolean(limits.rpm || limits.tpm || limits.maxInFlight);
  }

  /** Unenforced budgets: admit locally while the shared view says there is no pause and no learned rate. */
  private async fastPath(): Promise<AcquireResult | null> {
    if (this.enforcing) return null;
    if (Date.now() - this.view.at > VIEW_MS) {
      this.viewing ??= this.refreshView().finally(() => (this.viewing = null));
      await this.viewing;
    }
    if (this.view.learnedRpm > 0) return null;
    const wait = this.view.pausedUntil - Date.now();
    if (wait > 0) return { granted: false, waitMs: wait, reason: 'paused' };
    this.unflushed.requests++;
    this.scheduleFlush();
    return { granted: true };
  }

  private async refreshView(): Promise<void> {
    const [now, pauseUntil, arpm, hdrRpm, hdrTpm] = (await this.redis
      .multi()
      .time()
      .hget(this.keys.hash, 'pause_until')
      .hget(this.keys.hash, 'arpm')
      .hget(this.keys.hash, 'hdr_rpm')
      .hget(this.keys.hash, 'hdr_tpm')
      .exec())!.map(([, v]) => v) as [[string, string], string | null, string | null, string | null, string | null];
    const redisNow = Number(now[0]) * 1000 + Math.floor(Number(now[1]) / 1000);
    // Any learned or announced limit means pacing in Redis from now on.
    const learned = Math.max(Number(arpm ?? 0), Number(hdrRpm ?? 0), Number(hdrTpm ?? 0));
    this.view = { at: Date.now(), pausedUntil: Date.now() + (Number(pauseUntil ?? 0) - redisNow), learnedRpm: learned };
  }

  /** Counters for `status`, sent once a second instead of once per call. */
  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      const { requests, tokens } = this.unflushed;
      this.unflushed = { requests: 0, tokens: 0 };
      this.redis
        .multi()
        .hincrby(this.keys.hash, 'n_req', requests)
        .hincrby(this.keys.hash, 'win_req', requests)
        .hincrby(this.keys.hash, 'n_tok', tokens)
        .hincrby(this.keys.hash, 'win_tok', tokens)
        .hsetnx(this.keys.hash, 'win_start', Date.now())
        .pexpire(this.keys.hash, 86_400_000)
        .exec()
        .catch(() => {});
    }, 1000);
    this.flushTimer.unref();
  }

  private described = false;

  async acquire(costTokens: number, leaseId: string): Promise<AcquireResult> {
    if (!this.described) {
      // For `respool status`: what this budget is configured to allow.
      this.described = true;
      const { rpm, tpm, maxInFlight } = this.limits;
      await this.redis.hset(this.keys.hash, { rpm: rpm ?? 0, tpm: tpm ?? 0, max_in_flight: maxInFlight ?? 0 });
    }
    const paused = this.localPauseUntil - Date.now();
    if (paused > 0) return { granted: false, waitMs: paused, reason: 'paused' };
    const fast = await this.fastPath();
    if (fast) return fast;
    const [granted, wait, reason] = await commands(this.redis).respoolAcquire(
      this.keys.hash,
      this.keys.inFlight,
      String(this.limits.rpm ?? 0),
      String(this.limits.tpm ?? 0),
      String(this.limits.maxInFlight ?? 0),
      String(Math.max(0, Math.ceil(costTokens))),
      leaseId,
      String(LEASE_MS),
      this.adaptive ? '1' : '0',
    );
    return granted === 1 ? { granted: true } : { granted: false, waitMs: Math.max(1, Number(wait)), reason: reason as Exclude<AcquireResult, { granted: true }>['reason'] };
  }

  async settle(leaseId: string, estimatedTokens: number, actualTokens: number | null): Promise<void> {
    if (!this.enforcing && this.view.learnedRpm === 0) {
      this.unflushed.tokens += Math.ceil(actualTokens ?? estimatedTokens);
      this.scheduleFlush();
      return;
    }
    await commands(this.redis).respoolSettle(
      this.keys.hash,
      this.keys.inFlight,
      leaseId,
      String(Math.ceil(estimatedTokens)),
      String(actualTokens === null ? -1 : Math.ceil(actualTokens)),
      String(this.limits.tpm ?? 0),
    );
  }

  private announced = { rpm: 0, tpm: 0 };

  /**
   * The provider's own per-minute limits (x-ratelimit-limit-requests/-tokens, OpenAI's meaning), used
   * for whatever the job did not configure. Written to Redis only when they change.
   */
  async announce(rpm: number | null, tpm: number | null): Promise<void> {
    const r = !this.limits.rpm && rpm !== null && rpm > 0 && rpm !== this.announced.rpm ? rpm : null;
    const t = !this.limits.tpm && tpm !== null && tpm > 0 && tpm !== this.announced.tpm ? tpm : null;
    if (r === null && t === null) return;
    if (r !== null) this.announced.rpm = r;
    if (t !== null) this.announced.tpm = t;
    await this.redis.hset(this.keys.hash, { ...(r === null ? {} : { hdr_rpm: r }), ...(t === null ? {} : { hdr_tpm: t }) });
    this.view.at = 0;
  }

  /**
   * Pauses every worker of this budget for `pauseMs`. `count429` counts it as a rate-limited answer
   * (one `note429` did not count already); `cut` cuts the learned rate (only in adaptive mode).
   */
  async limited(leaseId: string, pauseMs: number, opts: { count429: boolean; cut: boolean }): Promise<void> {
    this.pauseHere(pauseMs);
    await commands(this.redis).respoolLimited(
      this.keys.hash,
      this.keys.inFlight,
      leaseId,
      String(Math.max(1, Math.ceil(pauseMs))),
      opts.cut && this.adaptive ? '1' : '0',
      opts.count429 ? '1' : '0',
      String(this.takeUnflushedRequests()),
    );
    this.view.at = 0;
  }

  /** Stops this process' calls on the budget for `pauseMs` now, before the shared pause reaches Redis. */
  pauseHere(pauseMs: number): void {
    this.localPauseUntil = Math.max(this.localPauseUntil, Date.now() + pauseMs);
  }

  /** Counts a 429 and returns the budget's recent use, for deciding whether the key is out of budget. */
  async note429(leaseId: string): Promise<BudgetUse> {
    const [requests, tokens, spanMs, hdrRpm, hdrTpm, hitRpm] = await commands(this.redis).respoolNote429(this.keys.hash, this.keys.inFlight, leaseId, String(this.takeUnflushedRequests()));
    const perMinute = (n: number) => (Number(n) * 60_000) / Math.max(1, Number(spanMs));
    return {
      recentRpm: perMinute(requests),
      recentTpm: perMinute(tokens),
      rpmLimit: this.limits.rpm ?? (Number(hdrRpm) || null),
      tpmLimit: this.limits.tpm ?? (Number(hdrTpm) || null),
      learnedLimitRpm: this.adaptive ? Number(hitRpm) || null : null,
    };
  }

  private takeUnflushedRequests(): number {
    const n = this.unflushed.requests;
    this.unflushed.requests = 0;
    return n;
  }

  async snapshot(): Promise<BudgetSnapshot> {
    return readSnapshot(this.redis, this.keys, this.id);
  }
}

export async function readSnapshot(redis: Redis, keys: { hash: string; inFlight: string }, id: string): Promise<BudgetSnapshot> {
  const [now, inFlight, flat] = await commands(redis).respoolBudgetSnapshot(keys.hash, keys.inFlight);
  const h: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = Number(flat[i + 1]);
  const span = (h.last_ms ?? 0) || 1;
  return {
    key: id,
    rpm: h.rpm || null,
    tpm: h.tpm || null,
    maxInFlight: h.max_in_flight || null,
    adaptiveRpm: h.arpm ? Math.round(h.arpm) : null,
    announcedRpm: h.hdr_rpm || null,
    announcedTpm: h.hdr_tpm || null,
    inFlight: Number(inFlight),
    pausedForMs: Math.max(0, (h.pause_until ?? 0) - Number(now)),
    requests: h.n_req ?? 0,
    tokens: h.n_tok ?? 0,
    rateLimited: h.n_429 ?? 0,
    pauses: h.n_pause ?? 0,
    recentRpm: Math.round(((h.last_req ?? 0) * 60000) / span),
    recentTpm: Math.round(((h.last_tok ?? 0) * 60000) / span),
  };
}
