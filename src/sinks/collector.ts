import os from 'node:os';
import nodePath from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULTS, QUEUE_DEFAULTS } from '../config/defaults.js';
import type { JobData } from '../core/item.js';
import type { OutputLine } from '../core/output-line.js';
import type { Logger } from '../core/logger.js';
import { LineStats } from '../queue/line-stats.js';
import { RunStore } from '../queue/run-store.js';
import { endWaitingJobs } from '../queue/cancel.js';
import { compactResults, removeStaleCopy } from './compact.js';
import { ResultsFile } from './results-file.js';
import { moveAside, readResultsIntoLedger } from './results-seed.js';
import { lineForJob } from './line-for-job.js';
import { formatLine } from './formats/openai-batch.js';
import { sleep } from '../core/sleep.js';

export interface CollectorOptions {
  redis: Redis;
  queue: Queue<JobData>;
  run: string;
  out: string;
  log: Logger;
  prefix?: string;
  batchSize?: number;
  /** Called with each batch of lines after they are on disk. */
  onWritten?: (lines: OutputLine[]) => void;
}

/** A line waiting to be written: from the results stream, or made from a job BullMQ gave up on. */
interface Delivered {
  id: string;
  line: OutputLine;
  /** The line exactly as delivered, so it is written byte for byte. */
  text?: string;
  streamId?: string;
  /** For a job from BullMQ's failed set: its data, kept so that `respool retry` can queue it again. */
  data?: JobData;
}

export class CollectorBusyError extends Error {
  override name = 'CollectorBusyError';
}

/** The run's state vanished from Redis while it was being collected (see `checkStateKept`). */
export class RunStateLostError extends Error {
  override name = 'RunStateLostError';
  constructor(readonly run: string) {
    super(
      `the state of run ${run} is gone from Redis (it restarted without its data, was flushed, or the run was cleaned); ` +
        'the run stopped: run it again, it goes on from the results file',
    );
  }
}

const LOCK_TTL_MS = 15_000;
/** How long a collector waits for a lock held by a live collector: its TTL, and a second. */
const LOCK_WAIT_MS = LOCK_TTL_MS + 1000;

/**
 * The one writer of a run's results file. Workers anywhere deliver each item's line to the run's
 * results stream in Redis; the collector appends them, records them as written, then deletes them.
 *
 * Exactly once: before a batch is written its starting offset is saved in Redis; the "written" marks
 * and the removal of that record happen in one Lua call after fdatasync. After a crash, a saved offset
 * means the batch was not recorded, so the file is cut back to it and the batch written again from the
 * jobs, which are still in Redis.
 */
export class Collector {
  private readonly store: RunStore;
  private readonly token = `${os.hostname()}:${process.pid}:${randomUUID()}`;
  private file: ResultsFile | null = null;
  private lockTimer: NodeJS.Timeout | null = null;
  private readonly batchSize: number;
  /** The run's `output_format`, read when the collector starts. */
  private format: 'respool' | 'openai-batch' = DEFAULTS.output_format;
  private readonly stats: LineStats;
  private lastCancelSweep = 0;

  constructor(private readonly opts: CollectorOptions) {
    this.store = new RunStore(opts.redis, opts.run, opts.prefix);
    this.batchSize = opts.batchSize ?? QUEUE_DEFAULTS.collectBatch;
    this.stats = new LineStats(opts.redis, this.store.keys);
  }

  /** Absolute path of the results file. */
  get path(): string {
    return this.file?.path ?? nodePath.resolve(this.opts.out);
  }

  /**
   * Takes the run's collector lock (waiting as `start` does) without opening the file yet: a command
   * takes it before it changes anything of the run, so that a second copy of it changes nothing.
   */
  async lock(): Promise<void> {
    if (!this.lockTimer) await this.acquireLock();
  }

  async start(): Promise<void> {
    await this.lock();
    const out = nodePath.resolve(this.opts.out);
    await removeStaleCopy(out);
    const results = await this.store.resultsState();
    if (results === 'fresh') {
      const moved = await moveAside(out);
      if (moved) this.opts.log.info(`run ${this.opts.run}: starting over (--fresh); the earlier results file is now ${moved}`);
    }
    this.file = await ResultsFile.open(out);
    this.format = (await this.store.load())?.settings.outputFormat ?? DEFAULTS.output_format;
    await this.recover();
    if (results === 'unread') await this.readBack();
    if (results !== 'read') await this.store.markResultsRead();
  }

  /** Items found in the file that the ledger did not know (see results-seed.ts) are done: not paid again. */
  private async readBack(): Promise<void> {
    const t0 = Date.now();
    const r = await readResultsIntoLedger(this.store.ledger, this.opts.run, this.path);
    if (r.lines === 0) return;
    const secs = (Date.now() - t0) / 1000;
    this.opts.log.info(
      `run ${this.opts.run}: read ${this.path} back into Redis (${r.lines} lines in ${secs.toFixed(1)} s): ${r.ofRun} of this run, ${r.found} of them not known to Redis: those items are done` +
        (r.repeated > 0 ? `; ${r.repeated} item(s) have more than one line: only the last is kept` : ''),
    );
  }

  /** Writes one batch of delivered lines; returns how many entries it took off Redis. */
  async drainOnce(): Promise<number> {
    const file = this.requireFile();
    const entries = await this.readResults();
    // BullMQ's failed set only gets jobs respool could not process at all; looking there on every
    // round would cost a round trip per batch for nothing, so it is checked when the stream is idle.
    const failed = entries.length === 0 ? await this.failedJobs() : [];
    const batch = [...entries, ...failed];
    if (batch.length === 0) return 0;
    const ledger = this.store.ledger;
    const written = await ledger.areWritten(batch.map((e) => e.id));
    const seen = new Set<string>();
    const fresh = batch.filter((e, i) => !written[i] && !seen.has(e.id) && seen.add(e.id));
    if (fresh.length > 0) {
      const lines = fresh.map((e) => e.line);
      for (const e of fresh) if (e.data?.type === 'item') await ledger.saveRetryData(e.id, e.data);
      await ledger.noteLineStatuses(fresh.map((e) => ({ id: e.id, status: e.line.status })));
      await this.store.saveWriting({ offset: file.bytes, path: file.path });
      await file.append(fresh.map((e) => formatLine(this.format, e.line, e.id, e.text)));
      await ledger.markWritten(fresh.map((e) => e.id));
      await this.stats.record(lines.map((l) => l.status));
      this.opts.onWritten?.(lines);
    }
    // Only now that the lines are recorded as written may their sources go.
    await this.store.dropDelivered(entries.map((e) => e.streamId!));
    await Promise.all(failed.map((e) => this.opts.queue.remove(e.id)));
    return batch.length;
  }

  private async readResults(): Promise<Delivered[]> {
    const raw = await this.store.readDelivered(this.batchSize);
    return raw.map(({ streamId, id, text }) => ({ id, streamId, text, line: JSON.parse(text) as OutputLine }));
  }

  private async failedJobs(): Promise<Delivered[]> {
    const jobs = await this.opts.queue.getJobs(['failed'], 0, this.batchSize - 1, true);
    return jobs.filter(Boolean).map((job) => ({ id: job.id!, line: lineForJob(job as Job<JobData>), data: (job as Job<JobData>).data }));
  }

  async isComplete(): Promise<boolean> {
    const status = await this.store.load();
    if (!status?.enqueueDone) return false;
    const [{ items, written }, superseded] = await Promise.all([this.store.ledger.counts(), this.store.ledger.supersededCount()]);
    // Retried items' old lines must be out of the file before the run counts as complete.
    return written >= items && superseded === 0;
  }

  /**
   * Work for the quiet moments: end the jobs of a cancelled run that no worker holds (also those
   * that come back for a retry after `cancel` ran), and rewrite the file once retried items have
   * their new lines. Returns true when it did something.
   */
  private async whenIdle(): Promise<boolean> {
    let busy = false;
    if (Date.now() - this.lastCancelSweep >= 1000) {
      this.lastCancelSweep = Date.now();
      if ((await this.store.loadState()) === 'cancelled') busy = (await endWaitingJobs(this.store, this.opts.queue)) > 0;
    }
    const due = await this.store.ledger.supersededDue();
    if (due.length > 0) {
      const file = this.requireFile();
      const abs = file.path;
      await file.close();
      this.file = null;
      let dropped: number;
      try {
        dropped = await compactResults(abs, this.opts.run, new Set(due.map((d) => d.id)));
      } finally {
        this.file = await ResultsFile.open(abs);
      }
      await this.store.ledger.supersededDone(due);
      this.opts.log.info(`run ${this.opts.run}: ${due.length} retried item(s) have their new line; rewrote ${abs} without ${dropped} old line(s)`);
      busy = true;
    }
    return busy;
  }

  /**
   * Drains until the run is complete, `shouldStop` says so, or the signal aborts. `idleMs` is the longest
   * wait between two looks at an idle stream (@default QUEUE_DEFAULTS.collectIdleMs).
   */
  async runUntilComplete(opts: { signal?: AbortSignal; shouldStop?: () => Promise<boolean> | boolean; idleMs?: number } = {}): Promise<'complete' | 'stopped'> {
    let idle = 10;
    for (;;) {
      if (opts.signal?.aborted) return 'stopped';
      const n = await this.drainOnce();
      if (n > 0 || (await this.whenIdle())) {
        idle = 10;
        continue;
      }
      await this.checkStateKept();
      if (await this.isComplete()) return 'complete';
      if (opts.shouldStop && (await opts.shouldStop())) return 'stopped';
      await sleep(idle, opts.signal);
      idle = Math.min(idle * 2, opts.idleMs ?? QUEUE_DEFAULTS.collectIdleMs);
    }
  }

  /**
   * A run whose settings are gone from Redis (Redis restarted without its data, was flushed, or the
   * run was cleaned) can never complete here: its ledger and queue went with them. Stop instead of
   * waiting forever; the next run reads the results file back (see results-seed.ts) and goes on.
   */
  private async checkStateKept(): Promise<void> {
    if (!(await this.store.isKept())) throw new RunStateLostError(this.opts.run);
  }

  async close(): Promise<void> {
    if (this.lockTimer) clearInterval(this.lockTimer);
    this.lockTimer = null;
    await this.file?.close();
    this.file = null;
    // Release only our own lock.
    await this.store.releaseCollectorLock(this.token);
  }

  private async recover(): Promise<void> {
    const file = this.requireFile();
    const pending = await this.store.unfinishedWriting();
    if (pending) {
      const { offset, path } = pending;
      if (path !== file.path) {
        this.opts.log.warn(`run ${this.opts.run}: an unfinished batch was being written to ${path}, not ${file.path}; leaving that file alone`);
      } else if (file.bytes >= offset) {
        const cut = file.bytes - offset;
        await file.truncate(offset);
        if (cut > 0) this.opts.log.warn(`run ${this.opts.run}: removed ${cut} bytes of a batch that was not recorded as written; it will be written again`);
      }
      await this.store.clearWriting();
    }
    const dropped = await file.dropTornTail();
    if (dropped > 0) this.opts.log.warn(`run ${this.opts.run}: dropped a torn last line (${dropped} bytes) from ${file.path}`);
  }

  /**
   * One collector per run. A lock left by a process of this machine that no longer exists is taken
   * over at once (a crashed `respool run` restarted), otherwise it must expire first.
   */
  private async acquireLock(): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    let said = false;
    for (;;) {
      if (await this.store.tryLockCollector(this.token, LOCK_TTL_MS)) break;
      const holder = await this.store.collectorLockHolder();
      if (holder && isDeadLocalProcess(holder)) {
        await this.store.breakCollectorLock();
        continue;
      }
      if (!said && holder) {
        this.opts.log.info(`run ${this.opts.run}: another collector (${holderName(holder)}) is writing it; waiting up to ${LOCK_WAIT_MS / 1000} s for it to let go`);
        said = true;
      }
      if (Date.now() > deadline) {
        throw new CollectorBusyError(`another collector is writing run ${this.opts.run} (${holder ? holderName(holder) : 'unknown'}); stop it first`);
      }
      await sleep(500);
    }
    this.lockTimer = setInterval(() => {
      this.store.renewCollectorLock(this.token, LOCK_TTL_MS).catch(() => {});
    }, LOCK_TTL_MS / 3);
    this.lockTimer.unref();
  }

  private requireFile(): ResultsFile {
    if (!this.file) throw new Error('collector not started');
    return this.file;
  }
}

/** `host pid N` of a lock value `host:pid:token`. */
function holderName(holder: string): string {
  return holder.split(':').slice(0, 2).join(' pid ');
}

function isDeadLocalProcess(holder: string): boolean {
  const [host, pid] = holder.split(':');
  if (host !== os.hostname() || !pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
