/**
 * Identical requests of a run share one call (`dedupe`, on by default). The first item to claim a
 * request key calls; an identical item that comes while that call runs waits in BullMQ's delayed set
 * and claims again; once the answer is there, it gets a copy of the line, marked `duplicate_of`, at no
 * cost. See docs/architecture.md#identical-requests and docs/output-line.md#duplicates.
 */
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { DelayedError } from '../core/cjs-deps.js';
import type { JobData } from '../core/item.js';
import type { LineCost, OutputLine } from '../core/output-line.js';
import { resultsLine } from '../core/results-line.js';
import { claimRequests, jobKeyPrefix, settleRequests, type DedupeClaim, type DedupeSettle } from '../queue/dedupe.js';
import { runKeys } from '../queue/keys.js';
import { MicroBatcher } from '../queue/micro-batcher.js';
import { isRetryable } from '../queue/requeue.js';

type ItemJob = Extract<JobData, { type: 'item' }>;

/**
 * Whether a line's answer is shared with identical items. Answers are: `completed`, `incomplete` and
 * `invalid_output` lines were paid for, and the same request would be paid again for the same kind
 * of answer. So is a `failed` line of type `invalid_request`: the API refused this very body, and
 * would refuse it again. Other failures (5xx, timeouts, network, a 429 on the last attempt, a failed
 * response, internal errors, a cancel, the cost cap) say nothing about the answer: the key is
 * released and the next identical item makes its own call, which may well succeed.
 */
export function isShareable(line: OutputLine): boolean {
  if (line.status === 'completed' || line.status === 'incomplete' || line.status === 'invalid_output') return true;
  return line.status === 'failed' && line.error?.type === 'invalid_request';
}

/**
 * The line of an item whose identical request was answered for `answer`'s item: the same outcome
 * (status, answer, usage, error, samples), its own identity (custom_id, source, run, time), no call
 * of its own (`attempts` 0, `latency_ms` null) and `duplicate_of` naming the item that called. A line
 * of the item itself (its job ran again after the answer was kept) is its own line, unchanged.
 */
export function duplicateLine(answer: OutputLine, data: ItemJob, now: Date = new Date()): OutputLine {
  return resultsLine({ item: data, model: answer.model, attempts: 0, latencyMs: null, rateLimited: 0, finishedAt: now }, { kind: 'duplicate', answer });
}

/** A duplicate was paid for on its caller's line: its own cost is zero (docs/output-line.md#duplicates). */
export function duplicateCost(): LineCost {
  return { input: 0, cached_input: 0, output: 0, total: 0, currency: 'USD', source: 'price_table' };
}

/**
 * How long a duplicate waits before it claims again: 250 ms, doubling per wait, at most 5 s. A call
 * takes seconds to minutes; each claim is one small Lua call.
 */
export function waitDelayMs(waitsSoFar: number): number {
  return Math.min(5_000, 250 * 2 ** Math.max(0, Math.min(waitsSoFar, 10)));
}

/** The processor's side of it: claim before the call, settle with the line. */
export interface DedupeHook {
  /** Null: this item calls. A line: the answer was there. Throws DelayedError: it waits (the job was moved). */
  before(job: Job<JobData>, token: string | undefined, requestKey: string): Promise<OutputLine | null>;
  /** Shares the item's line with identical items, or releases the key; no-op for items that did not claim. */
  settle(job: Job<JobData>, line: OutputLine): Promise<void>;
}

/** One per worker process: claims and settles of all its jobs, batched per run and turn of the event loop. */
export class RequestDedupe implements DedupeHook {
  private readonly claimed = new WeakMap<Job<JobData>, string>();
  private readonly perRun = new Map<string, { claim: MicroBatcher<{ key: string; id: string }, DedupeClaim>; settle: MicroBatcher<DedupeSettle, true> }>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix?: string,
  ) {}

  async before(job: Job<JobData>, token: string | undefined, requestKey: string): Promise<OutputLine | null> {
    const data = job.data as ItemJob;
    const claim = await this.batchers(data.run).claim.submit({ key: requestKey, id: job.id! });
    if (claim.action === 'call') {
      this.claimed.set(job, requestKey);
      return null;
    }
    if (claim.action === 'copy') return duplicateLine(JSON.parse(claim.line) as OutputLine, data);
    // Out of the worker's hands until then: a waiting duplicate holds no call slot and no lock.
    await job.moveToDelayed(Date.now() + waitDelayMs(waitsOf(job)), token);
    throw new DelayedError(`waiting for the answer to an identical request (${claim.caller})`);
  }

  async settle(job: Job<JobData>, line: OutputLine): Promise<void> {
    const key = this.claimed.get(job);
    if (key === undefined) return;
    this.claimed.delete(job);
    const shared = isShareable(line);
    await this.batchers(job.data.run).settle.submit({
      key,
      id: job.id!,
      line: shared ? JSON.stringify(line) : null,
      retryableStatus: shared && isRetryable(line.status) ? line.status : null,
    });
  }

  private batchers(run: string): { claim: MicroBatcher<{ key: string; id: string }, DedupeClaim>; settle: MicroBatcher<DedupeSettle, true> } {
    let b = this.perRun.get(run);
    if (!b) {
      const keys = runKeys(run, this.prefix);
      const jobs = jobKeyPrefix(run, this.prefix);
      b = {
        claim: new MicroBatcher((claims) => claimRequests(this.redis, keys, jobs, claims)),
        settle: new MicroBatcher(async (settles: DedupeSettle[]) => {
          await settleRequests(this.redis, keys, settles);
          return settles.map(() => true as const);
        }, 100),
      };
      this.perRun.set(run, b);
    }
    return b;
  }
}

/** Times the job was taken before this one without finishing an attempt: its waits, mostly. */
function waitsOf(job: Job<JobData>): number {
  return Math.max(0, (job.attemptsStarted ?? 1) - 1 - job.attemptsMade);
}
