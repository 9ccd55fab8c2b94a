import type { Job } from 'bullmq';
import type { JobData } from '../core/item.js';
import type { OutputLine } from '../core/output-line.js';

/**
 * The line for a job in BullMQ's failed state. Workers deliver every final outcome as a line, so a job
 * only gets there when respool itself could not process it (for example its worker died more often
 * than allowed); it still ends as one `failed` line.
 */
export function lineForJob(job: Job<JobData>): OutputLine {
  const data = job.data;
  return {
    custom_id: data.customId,
    status: 'failed',
    model: null,
    output_text: null,
    usage: null,
    response_id: null,
    attempts: job.attemptsMade,
    latency_ms: null,
    error: { type: 'internal', message: job.failedReason || 'the job finished without a result', status: null },
    source: data.source,
    run: data.run,
    finished_at: new Date(job.finishedOn ?? Date.now()).toISOString(),
    // No answer, nothing known to bill (docs/cost.md).
    cost: null,
  };
}
