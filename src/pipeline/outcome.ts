import type { Redis } from 'ioredis';
import { readSpend } from '../queue/cost-cap.js';
import { usdToNanos } from '../cost/compute.js';
import { runKeys } from '../queue/keys.js';
import { RETRYABLE_STATUSES } from '../queue/requeue.js';

/** Line statuses that mean the item's call did not work out: the ones `retry` queues again. */
export const UNSUCCESSFUL_STATUSES = RETRYABLE_STATUSES;
export type UnsuccessfulStatus = (typeof UNSUCCESSFUL_STATUSES)[number];

/** The run's lines that did not succeed, in all and per status. */
export interface UnsuccessfulLines {
  /** Items whose written line is failed, incomplete or invalid_output. */
  total: number;
  byStatus: Record<UnsuccessfulStatus, number>;
}

/**
 * The run's lines that did not succeed, over the whole run (not only this process's): the items the
 * collector noted for `retry` (failed_lines), and the per-status counts it keeps for `status`.
 */
export async function readUnsuccessful(redis: Redis, run: string, prefix?: string): Promise<UnsuccessfulLines> {
  const keys = runKeys(run, prefix);
  const [total, counts] = await Promise.all([redis.hlen(keys.failedLines), redis.hmget(keys.lineCounts, ...UNSUCCESSFUL_STATUSES)]);
  const byStatus = Object.fromEntries(UNSUCCESSFUL_STATUSES.map((s, i) => [s, Math.max(0, Number(counts[i] ?? 0) || 0)])) as Record<UnsuccessfulStatus, number>;
  return { total, byStatus };
}

/** What a run spent when it reached its `max_cost` (nano-dollars), or null when it did not reach it. */
export async function readCostCapReached(redis: Redis, run: string, maxCost: number | undefined, prefix?: string): Promise<{ cappedAtNanos: number; spentNanos: number } | null> {
  if (maxCost === undefined) return null;
  const spend = await readSpend(redis, run, prefix);
  if (spend.cappedAtNanos === null || spend.cappedAtNanos !== usdToNanos(maxCost)) return null;
  return { cappedAtNanos: spend.cappedAtNanos, spentNanos: spend.spentNanos };
}
