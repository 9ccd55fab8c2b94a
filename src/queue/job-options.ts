import type { JobsOptions } from 'bullmq';

/** Name of the backoff strategy the worker registers (see WorkerSet in worker/worker-set.ts). */
export const BACKOFF_TYPE = 'respool';

export function jobOptions(jobId: string, attempts: number): JobsOptions {
  return {
    jobId,
    attempts,
    backoff: { type: BACKOFF_TYPE },
    // A completed job has already delivered its line to the run's results stream: drop it. A job that
    // fails in BullMQ's sense (respool itself could not process it) stays until the collector writes
    // its failed line.
    removeOnComplete: true,
    removeOnFail: false,
  };
}
