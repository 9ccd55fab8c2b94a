import type { Job } from 'bullmq';
import type { JobData } from '../core/item.js';
import type { OutputLine } from '../core/output-line.js';

/**
 * The line for a finished job. Workers return the line as the job's result; a job can only reach
 * BullMQ's failed state when respool itself could not process it (for example its worker died more
 * often than allowed), and that still ends as one `failed` line.
 */
export function lineForJob(job: Job<JobData>, state: 'completed' | 'failed'): OutputLine {
  const value = job.returnvalue as OutputLine | null | undefined;
  if (state === 'completed' && value && typeof value === 'object' && typeof value.custom_id === 'string') return value;
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
  };
}
