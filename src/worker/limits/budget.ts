import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { budgetKeys } from '../../queue/keys.js';
import { budgetLabel } from './budget-label.js';
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

interface BudgetCommands {
  respoolAcquire(budget: string, inFlight: string, ...args: string[]): Promise<[number, number, string]>;
  respoolSettle(budget: string, inFlight: string, ...args: string[]): Promise<number>;
  respoolLimited(budget: string, inFlight: string, ...args: string[]): Promise<number>;
  respoolNote429(budget: string, inFlight: string, ...args: string[]): Promise<[number, number, number, number, number, number]>;
  respoolBudgetSnapshot(budget: string, inFlight: string): Promise<[number, number, string[]]>;
}

function commands(redis: Redis): BudgetCommands {
  return luaCommands<BudgetCommands>(redis, {
    respoolAcquire: { file: 'budgetAcquire', constants: { ADAPTIVE_GROWTH_PER_S, REQUEST_MARGIN, TOKEN_MARGIN } },
    respoolSettle: { file: 'budgetSettle', constants: { TOKEN_MARGIN } },
    respoolLimited: { file: 'budgetLimited', constants: { ADAPTIVE_FLOOR_RPM, ADAPTIVE_CUT, ADAPTIVE_CUT_EVERY_MS } },
    respoolNote429: { file: 'budgetNote429' },
    respoolBudgetSnapshot: { file: 'budgetSnapshot' },
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

/** Where a budget lives (queue/keys.ts); re-exported for the budget's readers. */
export { budgetKeys };

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

  /**
   * Names the budget for people (`respool status`): `model @ host`, never the key. The budget's own
   * writes give its hash the expiry.
   */
  async writeLabel(model: string, baseUrl: string): Promise<void> {
    await this.redis.hset(this.keys.hash, LABEL_FIELD, budgetLabel(model, baseUrl));
  }
}

/** The field of a budget's hash that holds its label. */
const LABEL_FIELD = 'label';

/** A budget's name for people, when a worker wrote one (`writeLabel`). */
export async function readLabel(redis: Redis, keys: { hash: string }): Promise<string | null> {
  return redis.hget(keys.hash, LABEL_FIELD);
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
