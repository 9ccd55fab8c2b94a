/**
 * What a 429 means for the key's budget. Real APIs answer 429 for two different reasons: the key is
 * out of budget (its limit is reached: every call would get the same answer), or the server is
 * briefly overloaded (a share of calls is refused at random, whatever the key's rate). Only the first
 * is worth stopping every worker for; the second costs the refused call its Retry-After and nothing
 * more. Pure: the numbers come from the budget in Redis and from this process' own answers.
 */

/** A rate within this share of the told or announced limit is "at the limit" (respool paces at 0.97-0.98 of it). */
export const AT_LIMIT_SHARE = 0.85;
/** Sustained 429s: at least this many of the last answers on the key were 429 ... */
export const SUSTAINED_429S = 10;
/** ... among the last this many answers (2xx, 429 or other errors) this process got on the key ... */
export const SUSTAINED_WINDOW_ANSWERS = 20;
/** ... within this long. Older answers say nothing about the key now. */
export const SUSTAINED_WINDOW_MS = 10_000;

/** The budget's recent use and the limits it is paced to, told in the job or announced in headers (null: none). */
export interface BudgetUse {
  recentRpm: number;
  recentTpm: number;
  rpmLimit: number | null;
  tpmLimit: number | null;
  /**
   * No rpm told: the rate at which sustained 429s last cut the learned rate, i.e. where the key met
   * its limit (null: never). A later 429 near it is taken as the same limit.
   */
  learnedLimitRpm?: number | null;
}

export interface Signals429 {
  /** The 429 itself says nothing is left (`x-ratelimit-remaining-requests: 0` or `-tokens: 0`). */
  saysExhausted: boolean;
  use: BudgetUse;
  /** Most recent answers on the key were 429s (see `RecentAnswers`). */
  sustained: boolean;
  /** No rpm told: the budget learns one from 429s. */
  learning: boolean;
}

export type Reason429 = 'exhausted' | 'at_limit' | 'sustained' | 'sporadic';

export interface Verdict429 {
  /** 'key': every worker of the key waits (the budget is paused); 'call': only the refused call waits. */
  scope: 'key' | 'call';
  reason: Reason429;
  /**
   * Cut the learned rate: on sustained 429s, or a 429 near the rate where sustained 429s met the
   * limit before; a sporadic or announced one teaches nothing.
   */
  cutLearnedRate: boolean;
}

function near(rate: number, limit: number | null | undefined): boolean {
  return limit !== null && limit !== undefined && limit > 0 && rate >= AT_LIMIT_SHARE * limit;
}

/** True when the budget's recent rate is within AT_LIMIT_SHARE of a limit it is paced to, or met before. */
export function isAtLimit(use: BudgetUse): boolean {
  return near(use.recentRpm, use.rpmLimit) || near(use.recentTpm, use.tpmLimit) || near(use.recentRpm, use.learnedLimitRpm);
}

export function decideOn429(s: Signals429): Verdict429 {
  // A limit proved by sustained 429s before, met again: the learned rate is still too high.
  const cutLearnedRate = s.learning && (s.sustained || near(s.use.recentRpm, s.use.learnedLimitRpm));
  if (s.saysExhausted) return { scope: 'key', reason: 'exhausted', cutLearnedRate };
  if (isAtLimit(s.use)) return { scope: 'key', reason: 'at_limit', cutLearnedRate };
  if (s.sustained) return { scope: 'key', reason: 'sustained', cutLearnedRate };
  return { scope: 'call', reason: 'sporadic', cutLearnedRate: false };
}

/**
 * The last answers this process got on one key, to tell sustained 429s (a limit: nearly every call is
 * refused) from sporadic ones (a few percent at random). With 10 % of calls refused at random, 10 of
 * 20 answers being 429 has a chance of about 7 in a million. Not "the last few in a row": a 429 comes
 * back at once and a success after the call's latency, so after a moment with few calls sent (a busy
 * process) the 429s of the next calls arrive together, in a row, without being a limit.
 */
export class RecentAnswers {
  private answers: Array<{ at: number; limited: boolean }> = [];

  record(limited: boolean, now: number = Date.now()): void {
    this.answers.push({ at: now, limited });
    if (this.answers.length > SUSTAINED_WINDOW_ANSWERS) this.answers.shift();
  }

  sustained(now: number = Date.now()): boolean {
    let limited = 0;
    for (const a of this.answers) if (a.limited && now - a.at <= SUSTAINED_WINDOW_MS) limited++;
    return limited >= SUSTAINED_429S;
  }
}
