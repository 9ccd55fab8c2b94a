import type { Queue } from 'bullmq';
import type { JobData } from '../core/item.js';

/**
 * Enqueue time of the oldest job that waits for a worker or is being worked on, from the front of
 * each of BullMQ's lists (the oldest waiting job is at the far end of `wait`). null when none.
 */
export async function oldestPendingTimestamp(queue: Queue<JobData>): Promise<number | null> {
  const heads = await Promise.all((['wait', 'prioritized', 'active'] as const).map((t) => queue.getJobs([t], 0, 0, true)));
  const times = heads.flat().map((j) => j?.timestamp).filter((t): t is number => typeof t === 'number' && t > 0);
  return times.length === 0 ? null : Math.min(...times);
}
