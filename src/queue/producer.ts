import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { describeSource, type JobData, type ReadOutcome, type Rejection } from '../core/item.js';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import { claim } from './ledger.js';
import { jobOptions } from './job-options.js';
import { jobIdFor, runKeys } from './keys.js';

export interface EnqueueStats {
  /** Items read (accepted and rejected), duplicates included. */
  read: number;
  /** Jobs handed to BullMQ (a job that already exists is not added again). */
  added: number;
  rejected: number;
  /** Items whose result is already delivered or written: skipped on a re-run. */
  alreadyDone: number;
  duplicates: number;
}

export interface EnqueueOptions {
  redis: Redis;
  queue: Queue<JobData>;
  run: string;
  attempts: number;
  prefix?: string;
  chunkSize?: number;
  /** Called after each chunk, for progress. */
  onChunk?: (stats: EnqueueStats) => void;
}

/**
 * Streams reader outcomes into the run's queue in chunks. Safe to run again after a crash or next to
 * a running collector: ids are deterministic, the ledger skips items already written, and BullMQ
 * ignores a job id that already exists.
 */
export async function enqueue(outcomes: AsyncIterable<ReadOutcome>, opts: EnqueueOptions): Promise<EnqueueStats> {
  const stats: EnqueueStats = { read: 0, added: 0, rejected: 0, alreadyDone: 0, duplicates: 0 };
  const chunkSize = opts.chunkSize ?? QUEUE_DEFAULTS.addBulkChunk;
  let chunk: JobData[] = [];
  for await (const outcome of outcomes) {
    stats.read++;
    chunk.push(toJobData(outcome, opts.run));
    if (chunk.length >= chunkSize) {
      await flush(chunk, opts, stats);
      chunk = [];
    }
  }
  if (chunk.length > 0) await flush(chunk, opts, stats);
  return stats;
}

function toJobData(outcome: ReadOutcome, run: string): JobData {
  if (outcome.type === 'item') {
    const { customId, source, request } = outcome.item;
    return { type: 'item', run, customId, source, request };
  }
  return rejectedJob(outcome.rejection, run);
}

function rejectedJob(r: Rejection, run: string): JobData {
  return { type: 'rejected', run, customId: r.customId, source: r.source, reason: r.reason };
}

async function flush(chunk: JobData[], opts: EnqueueOptions, stats: EnqueueStats): Promise<void> {
  const keys = runKeys(opts.run, opts.prefix);
  let pending = chunk;
  // A duplicate custom_id becomes a rejected line under an id made from its own source; that new id is
  // claimed in the next round (and, in the unlikely case it collides too, made unique by a suffix).
  for (let round = 0; pending.length > 0; round++) {
    const claims = await claim(
      opts.redis,
      keys,
      pending.map((d) => ({ id: jobIdFor(opts.run, d.customId), source: describeSource(d.source) })),
    );
    const toAdd: JobData[] = [];
    const retry: JobData[] = [];
    pending.forEach((data, i) => {
      const c = claims[i]!;
      if (c.state === 'done') stats.alreadyDone++;
      else if (c.state === 'duplicate') {
        stats.duplicates++;
        const here = describeSource(data.source);
        retry.push({
          type: 'rejected',
          run: opts.run,
          customId: round === 0 ? here : `${here}#${round}`,
          source: data.source,
          reason: `duplicate custom_id "${data.customId}" (first used at ${c.firstSource ?? 'another line'})`,
        });
      } else toAdd.push(data);
    });
    if (toAdd.length > 0) {
      await opts.queue.addBulk(
        toAdd.map((data) => ({ name: data.type, data, opts: jobOptions(jobIdFor(opts.run, data.customId), opts.attempts) })),
      );
      stats.added += toAdd.length;
      stats.rejected += toAdd.filter((d) => d.type === 'rejected').length;
    }
    pending = retry;
  }
  opts.onChunk?.(stats);
}
