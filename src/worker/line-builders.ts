import type { JobData } from '../core/item.js';
import type { LineError, OutputLine } from '../core/output-line.js';

type ItemJob = Extract<JobData, { type: 'item' }>;

/** Fields every line of an item shares; the status-specific ones are filled by the callers. */
export function baseLine(data: JobData, model: string | null): OutputLine {
  return {
    custom_id: data.customId,
    status: 'failed',
    model,
    output_text: null,
    usage: null,
    response_id: null,
    attempts: 0,
    latency_ms: null,
    source: data.source,
    run: data.run,
    finished_at: new Date().toISOString(),
  };
}

export function rejectedLine(data: Extract<JobData, { type: 'rejected' }>): OutputLine {
  return { ...baseLine(data, null), status: 'rejected', error: { type: 'rejected_input', message: data.reason, status: null } };
}

export function failedLine(data: ItemJob, model: string, error: LineError, attempts: number, latencyMs: number | null): OutputLine {
  return { ...baseLine(data, model), status: 'failed', error, attempts, latency_ms: latencyMs };
}

const CANCELLED_MESSAGE = 'the run was cancelled (respool cancel) before this item got its answer';

/** An item `respool cancel` ended before its call; `respool retry` queues it again. */
export function cancelledLine(data: ItemJob, model: string, attempts: number): OutputLine {
  return failedLine(data, model, { type: 'cancelled', message: CANCELLED_MESSAGE, status: null }, attempts, null);
}
