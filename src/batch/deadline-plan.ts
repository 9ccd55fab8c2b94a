/**
 * `auto` with a deadline (docs/modes.md#auto): which tier the rest of a run goes by, from the items
 * left, the time left and the pace online calls make. Pure: the clock and the figures come in.
 *
 * The run starts at the batch tier (half price, but no promise before the provider's 24 h window)
 * and stays there while flex could still finish everything left within the time left minus the
 * safety margin. Past that point the batch work is cancelled and the rest goes by flex (half price,
 * slower) when flex still fits in the time left, else at the standard tier. Flex gives way to the
 * standard tier once it no longer fits. A run never goes back to a cheaper tier.
 */

export type TierMode = 'batch' | 'flex' | 'online';

export interface PlanInput {
  now: number;
  deadlineAt: number;
  /** Share of the time left kept in reserve (deadline_margin). */
  margin: number;
  /** Items without their line yet. */
  itemsLeft: number;
  /** The tier the run goes by now. */
  current: TierMode;
  /** Lines per second online calls made lately (flex or standard), when measured. */
  measuredRate: number | null;
  /** What the key and the workers allow: rpm, and calls at once over every worker. */
  limits: { rpm?: number; concurrency: number };
  /** How late a switch may be seen and acted on: the driver's look interval and a batch cancel's turnaround. */
  reactionMs: number;
}

export interface PlanDecision {
  mode: TierMode;
  /** Why, in words for the log. */
  reason: string;
  /** Time the items left need at the standard tier's pace, ms. */
  onlineMs: number;
}

/** Flex calls queue at the provider's side: the pace assumed for them, against standard calls. */
export const FLEX_SLOWDOWN = 2;
/** The latency assumed for one standard call before any was measured. */
export const ASSUMED_CALL_MS = 1000;

/** Lines per second online calls can make: measured, else from the key's rpm and the calls at once. */
export function onlineRate(measuredRate: number | null, limits: PlanInput['limits']): number {
  if (measuredRate !== null && measuredRate > 0) return measuredRate;
  const byConcurrency = Math.max(1, limits.concurrency) * (1000 / ASSUMED_CALL_MS);
  return limits.rpm !== undefined && limits.rpm > 0 ? Math.min(limits.rpm / 60, byConcurrency) : byConcurrency;
}

export function planTier(p: PlanInput): PlanDecision {
  const rate = onlineRate(p.measuredRate, p.limits);
  const onlineMs = (p.itemsLeft / rate) * 1000;
  const flexMs = onlineMs * FLEX_SLOWDOWN;
  const leftMs = p.deadlineAt - p.now;
  const usableMs = leftMs * (1 - p.margin) - p.reactionMs;
  const fitsAtAll = leftMs - p.reactionMs;
  const figures = `${p.itemsLeft} items left, ${seconds(leftMs)} to the deadline, ${rate.toFixed(1)} items/s online`;
  if (p.itemsLeft <= 0) return { mode: p.current, reason: 'no items left', onlineMs };
  if (p.current === 'online') return { mode: 'online', reason: figures, onlineMs };
  if (p.current === 'flex') {
    if (flexMs <= fitsAtAll) return { mode: 'flex', reason: figures, onlineMs };
    return { mode: 'online', reason: `flex would need ${seconds(flexMs)}: ${figures}`, onlineMs };
  }
  if (flexMs < usableMs) return { mode: 'batch', reason: figures, onlineMs };
  if (flexMs <= fitsAtAll) return { mode: 'flex', reason: `flex needs ${seconds(flexMs)} of the ${seconds(usableMs)} left after the margin: ${figures}`, onlineMs };
  return { mode: 'online', reason: `flex would need ${seconds(flexMs)}, the standard tier ${seconds(onlineMs)}: ${figures}`, onlineMs };
}

/** Whether even the standard tier cannot finish in time (said once when the run starts). */
export function deadlineOutOfReach(p: Omit<PlanInput, 'current'>): { outOfReach: boolean; onlineMs: number } {
  const onlineMs = (p.itemsLeft / onlineRate(p.measuredRate, p.limits)) * 1000;
  return { outOfReach: onlineMs > p.deadlineAt - p.now, onlineMs };
}

function seconds(ms: number): string {
  if (ms < 0) return `${Math.round(ms / 1000)}s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}
