import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import path from 'node:path';
import pLimit from 'p-limit';
import { describeSource, type JobData, type ReadOutcome, type Rejection, type SourceRef } from '../core/item.js';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import { RunLedger } from './ledger.js';
import { jobOptions } from './job-options.js';
import { jobIdFor, runKeys } from './keys.js';

/** What reading a run's inputs found: items read, queued, rejected, already written, duplicate ids. */
export interface EnqueueStats {
  /** Items read (accepted and rejected), duplicates included. */
  read: number;
  /**
   * Jobs handed to BullMQ (a job that already exists is not added again): the items to call and the
   * rejected ones, whose lines go through the queue too. Items sent to the API: `added - rejected`.
   */
  added: number;
  /** Items that became `rejected` lines (bad input, duplicate ids). */
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
  /**
   * Backpressure: wait while more than this many jobs are waiting to be taken. Keeps a huge input
   * from sitting in Redis all at once, and leaves the machine to the workers when they share it.
   */
  maxQueued?: number;
  /**
   * With `maxQueued`: the lead starts at this many jobs and grows with the jobs the workers have
   * taken, up to `maxQueued`. A worker fetches its first jobs one round trip at a time; when it shares
   * the process, adding thousands of jobs first would keep its first calls waiting behind the adds.
   */
  rampFrom?: number;
  /** Folder that relative sources are resolved against when they are compared (default: cwd). */
  cwd?: string;
  signal?: AbortSignal;
}

/** Chunks being added at once: reading the next chunk overlaps the Redis round trips of the last. */
const CHUNKS_IN_FLIGHT = 2;
/** The first chunk is small, so that workers waiting for the run get their first jobs at once. */
const FIRST_CHUNK = 50;

/**
 * Streams reader outcomes into the run's queue in chunks. Safe to run again after a crash or next to
 * a running collector: ids are deterministic, the ledger skips items already written, and BullMQ
 * ignores a job id that already exists.
 */
export async function enqueue(outcomes: AsyncIterable<ReadOutcome>, opts: EnqueueOptions): Promise<EnqueueStats> {
  const stats: EnqueueStats = { read: 0, added: 0, rejected: 0, alreadyDone: 0, duplicates: 0 };
  const chunkSize = opts.chunkSize ?? QUEUE_DEFAULTS.addBulkChunk;
  const limit = pLimit(CHUNKS_IN_FLIGHT);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  const submit = async (chunk: JobData[]) => {
    // Waiting while a chunk is still queued behind the busy ones bounds the memory of a streamed input.
    while (limit.pendingCount > 0) await Promise.race(inFlight);
    if (failure) throw failure;
    if (opts.maxQueued !== undefined) await waitForRoom(opts.queue, (queued) => allowedLead(opts, stats.added - queued), opts.signal);
    // Stopped while waiting (cancel, interrupt, the run's end): the chunk is not queued, so that no
    // item enters the ledger after its collector may have finished. A resumed run reads it again.
    if (opts.signal?.aborted) {
      stats.read -= chunk.length;
      return;
    }
    const p = limit(() => flush(chunk, opts, stats)).catch((err: unknown) => {
      failure ??= err;
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  let chunk: JobData[] = [];
  let target = Math.min(FIRST_CHUNK, chunkSize);
  for await (const outcome of outcomes) {
    if (opts.signal?.aborted) break;
    stats.read++;
    chunk.push(toJobData(outcome, opts.run));
    if (chunk.length >= target) {
      await submit(chunk);
      chunk = [];
      target = chunkSize;
    }
  }
  if (chunk.length > 0) await submit(chunk);
  await Promise.all(inFlight);
  if (failure) throw failure;
  return stats;
}

/**
 * How the ledger names where an item came from: with absolute paths, so that the same line read from
 * another folder (a resumed run started elsewhere) is still recognised as the same item.
 */
function ledgerSource(source: SourceRef, cwd: string): string {
  return 'path' in source ? path.resolve(cwd, source.path) : `${path.resolve(cwd, source.file)}:${source.line}`;
}

/** Jobs that may be waiting in the queue, once `taken` of those this producer added are gone from it. */
export function allowedLead(opts: Pick<EnqueueOptions, 'maxQueued' | 'rampFrom'>, taken: number): number {
  if (opts.maxQueued === undefined) return Infinity;
  return opts.rampFrom === undefined ? opts.maxQueued : Math.min(opts.maxQueued, Math.max(opts.rampFrom, taken));
}

async function waitForRoom(queue: Queue<JobData>, allowed: (queued: number) => number, signal?: AbortSignal): Promise<void> {
  for (let wait = 10; !signal?.aborted; wait = Math.min(wait * 2, 100)) {
    const counts = await queue.getJobCounts('wait', 'prioritized');
    const queued = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    if (queued <= allowed(queued)) return;
    await new Promise((r) => setTimeout(r, wait));
  }
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
  const ledger = new RunLedger(opts.redis, runKeys(opts.run, opts.prefix));
  let pending = chunk;
  // A duplicate custom_id becomes a rejected line under an id made from its own source; that new id is
  // claimed in the next round (and, in the unlikely case it collides too, made unique by a suffix).
  for (let round = 0; pending.length > 0; round++) {
    const claims = await ledger.claimItems(
      pending.map((d) => ({ id: jobIdFor(opts.run, d.customId), source: ledgerSource(d.source, opts.cwd ?? process.cwd()) })),
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
          // From the second round on, `data` is such a rejection already, whose own id collided: its
          // reason still names the custom_id that was duplicated, not the id made from its source.
          reason: data.type === 'rejected' && round > 0 ? data.reason : `duplicate custom_id "${data.customId}" (first used at ${c.firstSource ?? 'another line'})`,
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
