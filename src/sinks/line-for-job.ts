import type { Job } from 'bullmq';
import type { JobData } from '../core/item.js';
import type { OutputLine } from '../core/output-line.js';
import { abandonedJobLine } from '../core/results-line.js';

/**
 * The line for a job in BullMQ's failed state (a job respool itself could not process): an `internal`
 * `failed` line with BullMQ's reason, built by ../core/results-line.ts.
 */
export function lineForJob(job: Job<JobData>): OutputLine {
  return abandonedJobLine(job.data, job.attemptsMade, job.failedReason, new Date(job.finishedOn ?? Date.now()));
}
