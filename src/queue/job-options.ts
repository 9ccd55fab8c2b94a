import type { JobsOptions } from 'bullmq';

/** Name of the backoff strategy the worker registers (see worker/backoff-strategy). */
export const BACKOFF_TYPE = 'respool';

export function jobOptions(jobId: string, attempts: number): JobsOptions {
  return {
    jobId,
    attempts,
    backoff: { type: BACKOFF_TYPE },
    // Results stay in Redis until the collector has written them; it removes them then.
    removeOnComplete: false,
    removeOnFail: false,
  };
}
