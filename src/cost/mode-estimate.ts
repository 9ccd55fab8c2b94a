/**
 * `respool estimate` per execution mode (docs/modes.md): what the run costs sent online (standard
 * tier), by flex, by the provider's Batch API and by `auto`, and whether an `auto` deadline can be
 * met online at the key's limits. Pure: the command gives it the per-model estimates, the prices and
 * the limits.
 *
 * Online time is bounded three ways, and the slowest bound wins: each model's requests per minute
 * (`rpm`) and tokens per minute (`tpm`), each model on its own budget as the rate limiter runs them,
 * and the calls in flight at once (`concurrency`, or `max_in_flight` when lower) times how long one
 * call takes. A limit that is not set does not bound; the call time is an assumption the output
 * names.
 */
import { rangeFor, type EstimateRange, type ModelEstimate } from './run-estimate.js';
import type { ModelPrice } from './prices.js';
import { isPricedTier, STANDARD_TIER } from './tiers.js';

export const ESTIMATE_MODES = ['online', 'flex', 'batch', 'auto'] as const;
export type EstimateMode = (typeof ESTIMATE_MODES)[number];

/** The provider's batch window: without a deadline, or with one further away, `auto` is batch. */
export const BATCH_WINDOW_MS = 24 * 3_600_000;

/** How long one online call is taken to last when nothing better is known (no probe). */
export const ASSUMED_CALL_SECONDS = 10;

export interface ModelLimits {
  rpm?: number;
  tpm?: number;
}

export interface OnlineLimits {
  /** Calls in flight at once over every worker. */
  concurrency: number;
  /** Seconds one call takes. */
  callSeconds: number;
  limitsOf(model: string): ModelLimits;
}

export interface OnlineTime {
  seconds: number;
  /** What bounds it: `rpm of gpt-4o`, `tpm of gpt-4o`, `concurrency`. */
  boundBy: string;
}

/** How long the run's calls take online (re-asks left out: the low end of the calls). */
export function onlineTime(models: ModelEstimate[], limits: OnlineLimits): OnlineTime {
  const calls = models.reduce((n, m) => n + m.calls, 0);
  let best: OnlineTime = { seconds: (calls * limits.callSeconds) / Math.max(1, limits.concurrency), boundBy: 'concurrency' };
  for (const m of models) {
    const l = limits.limitsOf(m.model);
    if (l.rpm && l.rpm > 0) {
      const s = (m.calls / l.rpm) * 60;
      if (s > best.seconds) best = { seconds: s, boundBy: `rpm of ${m.model}` };
    }
    if (l.tpm && l.tpm > 0) {
      const s = ((m.inputTokens + m.outputTokens) / l.tpm) * 60;
      if (s > best.seconds) best = { seconds: s, boundBy: `tpm of ${m.model}` };
    }
  }
  return best;
}

export interface DeadlineVerdict {
  deadlineMs: number;
  secondsLeft: number;
  onlineSeconds: number;
  /** Online, with `margin` of the time left kept in reserve, the run finishes by the deadline. */
  reachable: boolean;
  /** The deadline is beyond the batch window: `auto` runs as batch and need not switch. */
  batchWindowFits: boolean;
  /**
   * The latest moment `auto` can move what is left online and still make the deadline (with the
   * margin), if every item were still left then; null when it is already too late.
   */
  latestSwitchMs: number | null;
}

/** Whether `auto` can meet `deadlineMs`, judged at `nowMs` as the run would judge it at its start. */
export function judgeDeadline(online: OnlineTime, deadlineMs: number, nowMs: number, margin: number): DeadlineVerdict {
  const secondsLeft = Math.max(0, (deadlineMs - nowMs) / 1000);
  const needed = online.seconds / Math.max(0.01, 1 - margin);
  const latest = deadlineMs - needed * 1000;
  return {
    deadlineMs,
    secondsLeft,
    onlineSeconds: online.seconds,
    reachable: needed <= secondsLeft,
    batchWindowFits: deadlineMs - nowMs >= BATCH_WINDOW_MS,
    latestSwitchMs: latest >= nowMs ? latest : null,
  };
}

export interface ModeCost {
  mode: EstimateMode;
  /** Null when no model has a price. */
  range: { lowNanos: number; highNanos: number } | null;
  /** Models priced at the standard price for this mode for want of a tier price. */
  noTierPrice: string[];
  /** Models without any price, left out of the range. */
  unpriced: string[];
}

type PriceOf = (model: string) => ModelPrice | null;

/** The range of every model at one tier's price. */
function tierRange(models: ModelEstimate[], priceOf: PriceOf, tier: string): Omit<ModeCost, 'mode'> {
  let low = 0;
  let high = 0;
  let priced = 0;
  const noTierPrice: string[] = [];
  const unpriced: string[] = [];
  for (const m of models) {
    const price = priceOf(m.model);
    const r: EstimateRange | null = rangeFor(m, price, tier);
    if (!price || !r) {
      unpriced.push(m.model);
      continue;
    }
    if (tier !== STANDARD_TIER && !(isPricedTier(tier) && price.tiers[tier])) noTierPrice.push(m.model);
    low += r.lowNanos;
    high += r.highNanos;
    priced++;
  }
  return { range: priced === 0 ? null : { lowNanos: low, highNanos: high }, noTierPrice, unpriced };
}

/**
 * The cost range of each mode. `online`: the standard price. `flex`: the flex price (items that
 * fall back to the default tier cost the standard price instead). `batch`: the batch price. `auto`:
 * the batch price when there is no deadline or it lies beyond the batch window; with a shorter
 * deadline, from the batch price (batch finishes in time) to the standard price (everything moves
 * online).
 */
export function modeCosts(models: ModelEstimate[], priceOf: PriceOf, deadline: DeadlineVerdict | null): ModeCost[] {
  const standard = tierRange(models, priceOf, STANDARD_TIER);
  const flex = tierRange(models, priceOf, 'flex');
  const batch = tierRange(models, priceOf, 'batch');
  const span = (lowOf: typeof standard, highOf: typeof standard) => (lowOf.range && highOf.range ? { lowNanos: lowOf.range.lowNanos, highNanos: highOf.range.highNanos } : null);
  const autoIsBatch = deadline === null || deadline.batchWindowFits;
  return [
    { mode: 'online', ...standard },
    { mode: 'flex', ...flex },
    { mode: 'batch', ...batch },
    { mode: 'auto', ...(autoIsBatch ? batch : { ...batch, range: span(batch, standard) }) },
  ];
}

/** `2h05m`, `45m`, `30s`: a duration for people. */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}
