import type { Redis } from 'ioredis';
import { sleep } from '../../core/sleep.js';
import { parseDuration } from '../retry-after.js';
import { Budget, budgetId, type Limits } from './budget.js';
import { decideOn429, RecentAnswers, type BudgetUse, type Verdict429 } from './on-429.js';
import type { ResponseHeaders } from '../response-headers.js';

/**
 * What a worker does around each API call to stay within the provider's limits: wait for budget
 * before, give back what the estimate over-counted after, and on a 429 either stop every worker of the
 * same key until the provider's reset time (the key is out of budget) or let only the refused call
 * wait (see ./on-429.ts). One RateLimiter per process serves all runs and models.
 */
/** The budget's use, when the decision does not need it. */
const UNKNOWN_USE: BudgetUse = { recentRpm: 0, recentTpm: 0, rpmLimit: null, tpmLimit: null };

/** No pause the provider asks for is taken longer than this (as for Retry-After). */
const MAX_PAUSE_MS = 10 * 60_000;

export class RateLimiter {
  private readonly budgets = new Map<string, Budget>();
  /** This process' last answers per budget id, to tell sustained 429s from sporadic ones. */
  private readonly answers = new Map<string, RecentAnswers>();
  private calls = 0;
  /** 429 answers seen by this process (for the progress line). */
  rateLimited = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  budgetFor(baseUrl: string, apiKey: string | undefined, model: string, limits: Limits): Budget {
    const id = budgetId(baseUrl, apiKey, model);
    const cacheKey = `${id}\0${limits.rpm ?? 0}\0${limits.tpm ?? 0}\0${limits.maxInFlight ?? 0}`;
    let budget = this.budgets.get(cacheKey);
    if (!budget) {
      budget = new Budget(this.redis, id, limits, limits.rpm === undefined, this.prefix);
      this.budgets.set(cacheKey, budget);
    }
    return budget;
  }

  /** Waits until the budget admits a call of `estimatedTokens`; returns the lease to settle. */
  async acquire(budget: Budget, estimatedTokens: number, jobId: string, signal?: AbortSignal): Promise<string> {
    const lease = `${jobId}.${process.pid}.${++this.calls}`;
    for (;;) {
      signal?.throwIfAborted();
      const r = await budget.acquire(estimatedTokens, lease);
      if (r.granted) return lease;
      // A little jitter so that the workers told the same time do not all come back at once.
      await sleep(r.waitMs + Math.floor(Math.random() * Math.min(20, r.waitMs / 4 + 1)), signal);
      signal?.throwIfAborted();
    }
  }

  private answersOf(budget: Budget): RecentAnswers {
    let answers = this.answers.get(budget.id);
    if (!answers) {
      answers = new RecentAnswers();
      this.answers.set(budget.id, answers);
    }
    return answers;
  }

  /** After an answer (2xx or an error other than 429): settle tokens, heed "nothing left" headers. */
  async settle(budget: Budget, lease: string, estimatedTokens: number, actualTokens: number | null, headers: ResponseHeaders | null): Promise<void> {
    this.answersOf(budget).record(false);
    await budget.settle(lease, estimatedTokens, actualTokens);
    if (headers) await budget.announce(headerNumber(headers, 'x-ratelimit-limit-requests'), headerNumber(headers, 'x-ratelimit-limit-tokens'));
    const exhaustedFor = exhaustedForMs(headers);
    if (exhaustedFor !== null) await budget.limited(`${lease}.x`, exhaustedFor, { count429: false, cut: true });
  }

  /**
   * A 429: the refused call cost no tokens. When the key is out of budget, every worker of the budget
   * is paused until the provider says (and, on sustained 429s, the learned rate is cut); otherwise only
   * this call waits. Returns how long the caller itself must wait before calling again: 0 when the
   * budget was paused (the budget makes it wait).
   */
  async onRateLimited(budget: Budget, lease: string, estimatedTokens: number, answer: { retryAfterMs: number | null; nothingLeft: boolean }): Promise<{ waitMs: number; verdict: Verdict429 }> {
    this.rateLimited++;
    const wait = Math.min(answer.retryAfterMs ?? 1000, MAX_PAUSE_MS);
    const answers = this.answersOf(budget);
    answers.record(true);
    const sustained = answers.sustained();
    if (answer.nothingLeft || sustained) {
      // Known without asking Redis: the key is out of budget. The shared pause goes out first, so that
      // other processes stop as soon as possible; the bookkeeping follows.
      const verdict = decideOn429({ saysExhausted: answer.nothingLeft, use: UNKNOWN_USE, sustained, learning: budget.adaptive });
      await budget.limited(lease, wait, { count429: true, cut: verdict.cutLearnedRate });
      await budget.settle(lease, estimatedTokens, 0);
      return { waitMs: 0, verdict };
    }
    await budget.settle(lease, estimatedTokens, 0);
    const use = await budget.note429(lease);
    const verdict = decideOn429({ saysExhausted: false, use, sustained: false, learning: budget.adaptive });
    if (verdict.scope === 'call') return { waitMs: wait, verdict };
    await budget.limited(lease, wait, { count429: false, cut: verdict.cutLearnedRate });
    return { waitMs: 0, verdict };
  }
}

/**
 * When the provider says no requests (or tokens) are left in its window, the time until its reset,
 * so that workers wait instead of collecting 429s. Null when the headers are absent or say there is room.
 */
export function exhaustedForMs(headers: ResponseHeaders | null): number | null {
  if (!headers) return null;
  let wait: number | null = null;
  for (const kind of ['requests', 'tokens']) {
    const remaining = Number(headers.get(`x-ratelimit-remaining-${kind}`) ?? NaN);
    if (!Number.isFinite(remaining) || remaining > 0) continue;
    const reset = parseDuration(headers.get(`x-ratelimit-reset-${kind}`));
    if (reset !== null && reset > 0) wait = Math.min(Math.max(wait ?? 0, reset), MAX_PAUSE_MS);
  }
  return wait;
}

function headerNumber(headers: ResponseHeaders, name: string): number | null {
  const v = headers.get(name);
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}
