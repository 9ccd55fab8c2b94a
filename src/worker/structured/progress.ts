/**
 * What an item's BullMQ job carries from one attempt to the next, in its `progress`: the 429s
 * answered so far (`rate_limited`), the samples already finished (`samples`) and flex's first
 * refusal (`flex_refused_at`), so that a retried
 * attempt neither miscounts nor pays again for answers it has.
 */
import type { Job } from 'bullmq';
import type { HttpRecord } from '../../core/output-line.js';
import type { JobData } from '../../core/item.js';
import type { SampleResult } from './ask.js';

export interface ItemProgress {
  rate_limited?: number;
  samples?: Array<SampleResult<HttpRecord | null>>;
  /** When flex first refused the item for lack of capacity (epoch ms): its fallback to the default tier counts from there. */
  flex_refused_at?: number;
}

export function progressOf(job: Job<JobData>): ItemProgress {
  const p = job.progress as unknown;
  return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as ItemProgress) : {};
}

export function savedSamples(job: Job<JobData>): Array<SampleResult<HttpRecord | null>> {
  const samples = progressOf(job).samples;
  return Array.isArray(samples) ? samples : [];
}

/** Merges `patch` into the job's progress (BullMQ replaces the whole value). */
export function saveProgress(job: Job<JobData>, patch: ItemProgress): Promise<void> {
  return job.updateProgress({ ...progressOf(job), ...patch } as object);
}
