import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import type { JobData } from '../core/item.js';
import { runKeys, runsKey, type RunKeys } from './keys.js';
import { RunLedger } from './ledger.js';
import { BatchState } from './batch-state.js';
import { luaCommands } from './lua-commands.js';
import { releaseLock, renewLock, tryLock } from './token-lock.js';
import { retryItems, type RetryResult } from './requeue.js';
import { loadRun, loadRunState, toRunState, type RunSettings, type RunState, type RunStatus, type StopKind } from './run-meta.js';

/**
 * One run's state in Redis, behind one object: its settings, its state (running, stopped,
 * cancelled, and why), whether its results file was read back, the collector's lock and batch
 * record, its ledger (`ledger`, see ledger.ts), `respool retry`'s re-queue, cancel, and clean. It
 * holds the connection and the run's key names (keys.ts); nothing outside it writes those keys, so the
 * layout of the run's meta hash lives here and that of the ledger in ledger.ts.
 *
 * The rate-limit budgets, the `max_cost` account (cost-cap.ts), the identical-requests hash
 * (dedupe.ts), the line counts for `status` (line-stats.ts) and an incremental run's content keys
 * (incremental.ts) each have their own module; `clean` deletes the run's part of them too.
 */
export class RunStore {
  readonly keys: RunKeys;
  readonly ledger: RunLedger;

  constructor(
    readonly redis: Redis,
    readonly run: string,
    readonly prefix: string = QUEUE_DEFAULTS.prefix,
  ) {
    this.keys = runKeys(run, prefix);
    this.ledger = new RunLedger(redis, this.keys);
  }

  private get cmd(): MetaCommands {
    return luaCommands<MetaCommands>(this.redis, META_COMMANDS);
  }

  // ---- settings ----

  /** Registers (or updates) the run. Enqueueing again re-opens it: a stopped run is running again. */
  async saveSettings(settings: RunSettings): Promise<void> {
    settings = await this.withFirstDeadline(settings);
    await this.redis
      .multi()
      .hset(this.keys.meta, { settings: JSON.stringify(settings), ...RUNNING_AGAIN, enqueue_done: '0' })
      .hsetnx(this.keys.meta, 'created_at', new Date().toISOString())
      .sadd(runsKey(this.prefix), this.run)
      .exec();
  }

  /**
   * A deadline given as a duration (`6h`) is resolved when the settings are built: a run resumed or
   * enqueued again keeps the deadline it was first registered with, not six hours from the resume.
   */
  private async withFirstDeadline(settings: RunSettings): Promise<RunSettings> {
    if (settings.deadlineAt === undefined) return settings;
    const stored = await this.redis.hget(this.keys.meta, 'settings');
    if (stored === null) return settings;
    const first = (JSON.parse(stored) as RunSettings).deadlineAt;
    return first === undefined ? settings : { ...settings, deadlineAt: first };
  }

  /** The run's settings and state, or null when Redis does not know the run. */
  async load(): Promise<RunStatus | null> {
    return loadRun(this.redis, this.run, this.prefix);
  }

  /** Only the state: what a worker checks before each call (`load` also parses the settings). */
  async loadState(): Promise<RunState | null> {
    return loadRunState(this.redis, this.run, this.prefix);
  }

  /**
   * Whether Redis still holds the run's settings: they go with the rest of its state when Redis
   * restarts without its data, is flushed, or the run is cleaned.
   */
  async isKept(): Promise<boolean> {
    return (await this.redis.hexists(this.keys.meta, 'settings')) === 1;
  }

  // ---- state ----

  /** Every input was read: the run can complete once every item's line is written. */
  async markEnqueueDone(): Promise<void> {
    await this.redis.hset(this.keys.meta, 'enqueue_done', '1');
  }

  /** The tier an `auto` run uses now and why it switched (null before any switch). */
  async modeSwitch(): Promise<{ now: string | null; reason: string | null }> {
    const [now, reason] = await this.redis.hmget(this.keys.meta, 'mode_now', 'mode_reason');
    return { now: now ?? null, reason: reason ?? null };
  }

  /** The tier an `auto` run goes by now, as its deadline watcher last recorded it (null: none yet). */
  async modeNow(): Promise<string | null> {
    return this.redis.hget(this.keys.meta, 'mode_now');
  }

  /** An `auto` run switches tier, for every worker (read by `modeNow`) and for `status` (the reason). */
  async recordModeSwitch(mode: string, reason: string): Promise<void> {
    await this.redis.hset(this.keys.meta, { mode_now: mode, mode_reason: reason });
  }

  async markStopped(reason: string, kind: StopKind = 'key_refused'): Promise<void> {
    await this.redis.hset(this.keys.meta, { state: 'stopped', stop_reason: reason, stop_kind: kind });
  }

  /** A stopped or cancelled run runs again (`retry`): its stop and the circuit's count are cleared. */
  async markRunning(): Promise<void> {
    await this.redis.hset(this.keys.meta, RUNNING_AGAIN);
  }

  /**
   * `respool cancel`: the run is cancelled, and its queue paused, so that no worker anywhere takes
   * another of its jobs; enqueueing stops (producers watch the state). `enqueue_done` is set so that
   * the run can complete with the lines it has. Enqueueing the run again sets it running.
   */
  async markCancelled(queue: Queue<JobData>): Promise<void> {
    await this.redis.hset(this.keys.meta, { state: 'cancelled', stop_reason: 'cancelled', enqueue_done: '1' });
    await queue.pause();
  }

  /**
   * One more API call of the run failed for want of an answer (src/worker/circuit.ts): the count of
   * such failures in a row over every worker, how long ago the first of them was, and the run's state,
   * read in the same step.
   */
  async recordApiFailure(): Promise<{ failures: number; spanMs: number; state: RunState }> {
    const [failures, state, spanMs] = await this.cmd.respoolApiFailure(this.keys.meta);
    return { failures: Number(failures), spanMs: Number(spanMs), state: toRunState(state) };
  }

  /** A call of the run got an answer: the count of failures in a row starts again. */
  async resetApiFailures(): Promise<void> {
    await this.cmd.respoolResetApiFailures(this.keys.meta);
  }

  /** Notes a rate-limit budget the run's workers use (its id, never the key), for `respool status`. */
  async recordBudget(id: string): Promise<void> {
    await this.redis.sadd(this.keys.budgets, id);
  }

  // ---- the results file ----

  /**
   * Whether the results file was read back into the ledger (see sinks/results-seed.ts): the meta's
   * `results_read` is "1" once read, "fresh" when the run was started over, absent otherwise.
   */
  async resultsState(): Promise<ResultsState> {
    const v = await this.redis.hget(this.keys.meta, 'results_read');
    return v === '1' ? 'read' : v === 'fresh' ? 'fresh' : 'unread';
  }

  async markResultsRead(): Promise<void> {
    await this.redis.hset(this.keys.meta, 'results_read', '1');
  }

  /** Set before the run is registered again, so that its collector moves the old file aside instead of reading it. */
  async markFresh(): Promise<void> {
    await this.redis.hset(this.keys.meta, 'results_read', 'fresh');
  }

  /** The collector is about to append a batch to `path`, which is `offset` bytes long (cleared by `ledger.markWritten`). */
  async saveWriting(batch: WritingBatch): Promise<void> {
    await this.redis.set(this.keys.writing, JSON.stringify(batch));
  }

  /** A batch whose write a collector began but never recorded, or null. */
  async unfinishedWriting(): Promise<WritingBatch | null> {
    const raw = await this.redis.get(this.keys.writing);
    return raw ? (JSON.parse(raw) as WritingBatch) : null;
  }

  async clearWriting(): Promise<void> {
    await this.redis.del(this.keys.writing);
  }

  /** Entries of the results stream (lines delivered, not yet written), oldest first. */
  async readDelivered(count: number): Promise<Array<{ streamId: string; id: string; text: string }>> {
    const raw = (await this.redis.xrange(this.keys.results, '-', '+', 'COUNT', count)) as Array<[string, string[]]>;
    return raw.map(([streamId, fields]) => ({ streamId, id: fields[fields.indexOf('id') + 1]!, text: fields[fields.indexOf('line') + 1]! }));
  }

  /** Drops stream entries whose lines are marked written. */
  async dropDelivered(streamIds: string[]): Promise<void> {
    if (streamIds.length > 0) await this.redis.xdel(this.keys.results, ...streamIds);
  }

  /** Lines delivered and not yet written. */
  async deliveredCount(): Promise<number> {
    return this.redis.xlen(this.keys.results);
  }

  // ---- the collector lock ----

  /** Takes the run's collector lock for `ttlMs` if nobody holds it. */
  async tryLockCollector(token: string, ttlMs: number): Promise<boolean> {
    return tryLock(this.redis, this.keys.collectorLock, token, ttlMs);
  }

  /** Who holds the collector lock (`<host>:<pid>:<uuid>`), or null. */
  async collectorLockHolder(): Promise<string | null> {
    return this.redis.get(this.keys.collectorLock);
  }

  /** Extends the lock while `token` holds it; false when it is not (or no longer) this holder's. */
  async renewCollectorLock(token: string, ttlMs: number): Promise<boolean> {
    return renewLock(this.redis, this.keys.collectorLock, token, ttlMs);
  }

  /** Releases the lock if `token` still holds it. */
  async releaseCollectorLock(token: string): Promise<void> {
    await releaseLock(this.redis, this.keys.collectorLock, token);
  }

  /** Takes the lock away from a holder known to be dead (a process of this machine that no longer exists). */
  async breakCollectorLock(): Promise<void> {
    await this.redis.del(this.keys.collectorLock);
  }

  // ---- retry, clean ----

  /** `respool retry`: see requeue.ts. */
  async requeue(queue: Queue<JobData>, statuses: string[], attempts: number): Promise<RetryResult> {
    return retryItems(this.redis, queue, this.keys, statuses, attempts);
  }

  /**
   * Removes everything the run keeps in Redis: its queue, ledger and settings, its `max_cost` account,
   * identical-request answers, counts and content keys. The results file stays (and is read back by the
   * run's next collector). `keepCollectorLock`: for a command that holds the lock and starts the run
   * over (`--fresh`).
   */
  async clean(queue: Queue, opts: { keepCollectorLock?: boolean } = {}): Promise<void> {
    await queue.obliterate({ force: true });
    await this.ledger.delete();
    const k = this.keys;
    if (!opts.keepCollectorLock) await this.redis.del(k.collectorLock);
    await this.redis.del(k.meta, k.results, k.written, k.writing, k.budgets, k.lineCounts, k.progress, k.failedLines, k.retryData, k.retrying, k.superseded, k.content, k.dedupe, k.dedupeRetryable, k.spend, k.spendLeases);
    await new BatchState(this.redis, this.run, this.prefix).deleteAll();
    await this.redis.srem(runsKey(this.prefix), this.run);
  }
}

/** See `RunStore.resultsState`. */
export type ResultsState = 'read' | 'fresh' | 'unread';

/** The collector's record of the batch it is appending: the file and its size before the batch. */
export interface WritingBatch {
  offset: number;
  path: string;
}

/** The meta fields of a run that runs (again): no stop, and the circuit's count of failures in a row at 0. */
const RUNNING_AGAIN = { state: 'running', stop_reason: '', stop_kind: '', api_failures: '0' };

interface MetaCommands {
  respoolApiFailure(meta: string): Promise<[number, string, number]>;
  respoolResetApiFailures(meta: string): Promise<number>;
}

const META_COMMANDS = {
  respoolApiFailure: { file: 'recordApiFailure' },
  respoolResetApiFailures: { file: 'resetApiFailures' },
} as const;
