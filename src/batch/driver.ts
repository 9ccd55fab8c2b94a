/**
 * Runs one run's provider batches from a worker process (docs/modes.md): at most one process per run
 * at a time, the holder of the run's batch lease. Each look (about once a second) it
 *
 * 1. puts items handed over to online calls into the run's queue (crash-safe hand-over);
 * 2. for `auto` with a deadline, asks the planner whether the rest must go by flex or the standard
 *    tier, and records a switch in the run's meta (`mode_now`), which every worker follows;
 * 3. in batch mode, claims parked items into chunks, uploads each chunk's file and creates its batch,
 *    writing the file id and the batch id to Redis right after each step; else, hands the parked
 *    items over to the queue and cancels the live batches;
 * 4. polls live batches with backoff, and when one ends, turns every line of its output and error
 *    files into that item's results line through the run's exactly-once delivery; items left without
 *    a line go back to the parked list (a new batch) or online.
 *
 * A process that dies leaves its lease to expire; the next holder finds every chunk where the last
 * one left it. A chunk whose batch creation may have been sent but not recorded is matched with the
 * provider's batches by metadata before another is created: never two batches for one chunk.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import type { JobData } from '../core/item.js';
import type { OutputLine } from '../core/output-line.js';
import { BatchState, type ChunkRecord } from '../queue/batch-state.js';
import { jobOptions } from '../queue/job-options.js';
import { runKeys } from '../queue/keys.js';
import { loadRun, type RunSettings } from '../queue/run-meta.js';
import { RunStore } from '../queue/run-store.js';
import { resultsLine, type LineContext } from '../core/results-line.js';
import { answerOfBatchLine } from './batch-line.js';
import { deadlineOutOfReach, planTier, type TierMode } from './deadline-plan.js';
import { BatchApiUnavailableError, type BatchProvider } from './provider.js';
import { FINAL_BATCH_STATUSES, type ProviderBatch } from './types.js';
import { failedBatchVerdict } from './read-output.js';
import { CostCap } from '../queue/cost-cap.js';
import { formatUsd, usdToNanos } from '../cost/compute.js';
import type { Pricer } from '../cost/pricer.js';
import { effectiveMode } from './mode.js';

type ItemJob = Extract<JobData, { type: 'item' }>;

export interface DeliverEntry {
  id: string;
  line: OutputLine;
  data: JobData;
}

export interface BatchDriverOptions {
  redis: Redis;
  run: string;
  prefix?: string;
  log: Logger;
  /** The run's BullMQ queue, for items that go online. */
  queue: Queue<JobData>;
  provider(settings: RunSettings): BatchProvider;
  /** The workers' delivery: cost, retry data, then the ledger's exactly-once hand-over. Returns how many were new. */
  deliver(run: string, entries: DeliverEntry[]): Promise<number>;
  /** Calls at once this process makes per run: the pace `auto` assumes online before measuring one. */
  concurrency: number;
  /** The run's price table, for its max_cost: each chunk reserves what it may cost before it is submitted. */
  pricer?(settings: RunSettings): Promise<Pricer>;
  /** Between two looks. */
  tickMs?: number;
  leaseMs?: number;
}

/** How long the batch lease lasts without renewal: a dead holder's runs wait this long for the next. */
export const BATCH_LEASE_MS = 15_000;
const TICK_MS = 1000;
/** Items handed to the queue per look. */
const ONLINE_MOVE = 1000;
/** Lines delivered per Redis call while reading an output file. */
const DELIVER_EVERY = 100;
/** A chunk's max_cost reservation outlives the provider's 24 h window, so that a dead holder's lapses only after. */
const CHUNK_RESERVATION_MS = 25 * 3_600_000;
/** Poll intervals to wait after a quota refused a batch before submitting again. */
const QUOTA_HOLD_POLLS = 10;

interface PollState {
  nextAt: number;
  intervalMs: number;
  seen: string;
}

export class BatchDriver {
  private readonly owner = `${os.hostname()}:${process.pid}:${randomUUID()}`;
  private readonly state: BatchState;
  private readonly store: RunStore;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly polls = new Map<string, PollState>();
  /** Pending count at the last look: a chunk not yet full is submitted once parking has paused. */
  private lastPending = -1;
  private warnedDeadline = false;
  private onlineSince: { at: number; left: number } | null = null;
  /** After a quota refused a batch, no new batch before this time. */
  private holdSubmitsUntil = 0;

  constructor(private readonly opts: BatchDriverOptions) {
    this.state = new BatchState(opts.redis, opts.run, opts.prefix);
    this.store = new RunStore(opts.redis, opts.run, opts.prefix);
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((err: Error) => {
          this.opts.log.warn(`run ${this.opts.run}: batch work: ${err.message}`);
        })
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(loop, this.opts.tickMs ?? TICK_MS);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.state.releaseLease(this.owner).catch(() => {});
  }

  /** One look; exported for tests through `start`. */
  private async tick(): Promise<void> {
    const status = await loadRun(this.opts.redis, this.opts.run, this.opts.prefix);
    if (!status) return;
    const { settings } = status;
    const wantsBatch = settings.mode === 'batch' || settings.mode === 'auto';
    if (!wantsBatch && !(await this.state.exists())) return;
    // A stopped run (key refused, no batch endpoint) waits until it is enqueued again.
    if (status.state === 'stopped') return;
    if (!(await this.state.takeLease(this.owner, this.opts.leaseMs ?? BATCH_LEASE_MS))) return;
    const cancelled = status.state === 'cancelled';
    try {
      await this.flushToOnline(settings);
      let mode = effectiveMode(settings, await this.store.modeNow());
      if (!cancelled && settings.mode === 'auto' && settings.deadlineAt !== undefined) mode = await this.followDeadline(settings, mode);
      const inBatch = mode === 'batch' && !cancelled;
      if (inBatch) await this.submit(settings, status.enqueueDone);
      else await this.leaveBatch(settings);
      await this.pollLive(settings, inBatch);
      await this.flushToOnline(settings);
    } catch (err) {
      if (err instanceof BatchApiUnavailableError) await this.stopForMissingApi(settings, err);
      else throw err;
    }
  }

  // ---- auto with a deadline ----

  private async followDeadline(settings: RunSettings, mode: TierMode): Promise<TierMode> {
    const deadlineAt = settings.deadlineAt!;
    const now = Date.now();
    const itemsLeft = await this.opts.redis.hlen(runKeys(this.opts.run, this.opts.prefix).ledger);
    const limits = { ...(settings.limits.rpm === undefined ? {} : { rpm: settings.limits.rpm }), concurrency: this.opts.concurrency };
    const reactionMs = 2 * (this.opts.tickMs ?? TICK_MS) + (settings.batch?.pollMs ?? 10_000);
    const margin = settings.deadlineMargin ?? 0.2;
    if (!this.warnedDeadline) {
      this.warnedDeadline = true;
      const reach = deadlineOutOfReach({ now, deadlineAt, margin, itemsLeft, measuredRate: null, limits, reactionMs });
      if (reach.outOfReach) {
        this.opts.log.warn(`run ${this.opts.run}: the deadline ${new Date(deadlineAt).toISOString()} looks out of reach: ${itemsLeft} items need about ${Math.round(reach.onlineMs / 1000)}s even at the standard tier; the run goes on`);
      }
    }
    const decision = planTier({ now, deadlineAt, margin, itemsLeft, current: mode, measuredRate: this.measuredRate(mode, itemsLeft, now), limits, reactionMs });
    if (decision.mode === mode) return mode;
    await this.store.recordModeSwitch(decision.mode, decision.reason);
    this.opts.log.warn(`run ${this.opts.run}: switching from ${mode} to ${decision.mode === 'online' ? 'the standard tier' : decision.mode} to meet the deadline (${decision.reason})`);
    this.onlineSince = { at: now, left: itemsLeft };
    return decision.mode;
  }

  /** Lines per second since the run went online, once that has lasted a few seconds. */
  private measuredRate(mode: TierMode, itemsLeft: number, now: number): number | null {
    if (mode === 'batch' || !this.onlineSince || now - this.onlineSince.at < 5000) return null;
    const done = this.onlineSince.left - itemsLeft;
    return done > 0 ? done / ((now - this.onlineSince.at) / 1000) : null;
  }

  // ---- submitting ----

  private async submit(settings: RunSettings, enqueueDone: boolean): Promise<void> {
    if (Date.now() < this.holdSubmitsUntil) return;
    const limits = settings.batch ?? { maxRequests: 50_000, maxBytes: 200 * 1024 * 1024, pollMs: 10_000, maxPollMs: 300_000 };
    // Chunks claimed by a holder that died before their batch was recorded come first.
    for (const chunk of await this.state.chunks()) {
      if (chunk.batchId === undefined) await this.submitChunk(settings, chunk);
    }
    for (;;) {
      const pending = await this.state.pendingCount();
      // A chunk not yet full waits while items are still being parked (they come in a stream).
      const settled = pending === this.lastPending || enqueueDone;
      this.lastPending = pending;
      if (pending === 0 || (pending < limits.maxRequests && !settled)) return;
      const claimed = await this.state.claimChunk(this.owner, limits.maxRequests, limits.maxBytes);
      if (!claimed) return;
      this.lastPending = -1;
      await this.submitChunk(settings, { id: claimed.chunk, n: claimed.ids.length, createdAt: Date.now() });
      if (pending - claimed.ids.length < limits.maxRequests && !enqueueDone) return;
    }
  }

  private async submitChunk(settings: RunSettings, chunk: ChunkRecord): Promise<void> {
    const provider = this.opts.provider(settings);
    const record = { ...chunk };
    if (record.fileId === undefined && record.reservedNanos === undefined && settings.maxCost !== undefined) {
      const reserved = await this.reserveChunk(settings, record);
      if (reserved === null) return;
      record.reservedNanos = reserved;
      if (!(await this.state.saveChunk(this.owner, record))) return;
    }
    if (record.fileId === undefined) {
      const content = await this.packChunk(settings, record.id);
      if (content === null) return;
      const file = await provider.uploadBatchFile(content, `respool-${this.opts.run}-${record.id}.jsonl`);
      record.fileId = file.id;
      if (!(await this.state.saveChunk(this.owner, record))) return;
    }
    if (record.createTried) {
      const found = await this.findBatchOf(provider, record.id);
      if (found) return this.recordBatch(record, found);
    }
    record.createTried = true;
    if (!(await this.state.saveChunk(this.owner, record))) return;
    const batch = await provider.createBatch(record.fileId, { respool_run: this.opts.run, respool_chunk: record.id });
    await this.recordBatch(record, batch);
  }

  /**
   * Reserves what the chunk's items may cost (the same estimate online calls reserve) against the
   * run's max_cost: the reservation in nano-dollars; null when the chunk waits (calls in flight may
   * leave room) or the cap is reached (its items then get skipped lines).
   */
  private async reserveChunk(settings: RunSettings, record: ChunkRecord): Promise<number | null> {
    if (!this.opts.pricer) return 0;
    const pricer = await this.opts.pricer(settings);
    const ids = await this.state.chunkIds(record.id);
    const bodies = await this.state.bodies(ids);
    let estimate = 0;
    for (const body of bodies) {
      if (body === null) continue;
      const parsed = JSON.parse(body) as Record<string, unknown>;
      estimate += pricer.estimateCallNanos(typeof parsed.model === 'string' ? parsed.model : settings.model, parsed, settings.expectedOutputTokens) ?? 0;
    }
    const cap = this.costCap(settings);
    const r = await cap.reserve(`batch-${record.id}`, estimate);
    if (r.outcome === 'granted') return estimate;
    if (r.outcome === 'capped') {
      const message = `not sent: the run's max_cost of ${formatUsd(cap.capNanos)} was reached (spent ${formatUsd(r.spentNanos)}; this batch could cost up to ${formatUsd(estimate)})`;
      const data = await this.state.jobData(ids);
      const entries: DeliverEntry[] = [];
      ids.forEach((id, i) => {
        const d = data[i];
        if (d) entries.push({ id, data: d, line: resultsLine(lineContext(d, settings.model, 0), { kind: 'skipped', message }) });
      });
      await this.opts.deliver(this.opts.run, entries);
      await this.state.finishChunk(this.owner, record.id, 'batch');
    }
    return null;
  }

  private costCap(settings: RunSettings): CostCap {
    return new CostCap(this.opts.redis, this.opts.run, usdToNanos(settings.maxCost ?? 0), this.opts.prefix, CHUNK_RESERVATION_MS);
  }

  private async recordBatch(record: ChunkRecord, batch: ProviderBatch): Promise<void> {
    const saved = await this.state.saveChunk(this.owner, { ...record, batchId: batch.id, submittedAt: Date.now() });
    if (saved) this.opts.log.info(`run ${this.opts.run}: submitted ${record.n} items as provider batch ${batch.id} (chunk ${record.id})`);
  }

  /** The provider batch created for this chunk by a holder that died before recording it, if any. */
  private async findBatchOf(provider: BatchProvider, chunk: string): Promise<ProviderBatch | null> {
    for await (const b of provider.listBatches()) {
      if (b.metadata?.respool_chunk === chunk && b.metadata?.respool_run === this.opts.run) return b;
    }
    return null;
  }

  /**
   * The chunk's batch input file: one line per item, its job id as custom_id and the body `online`
   * would send. An item whose line alone is over the file limit gets a failed line instead.
   */
  private async packChunk(settings: RunSettings, chunk: string): Promise<Buffer | null> {
    const ids = await this.state.chunkIds(chunk);
    const bodies = await this.state.bodies(ids);
    const maxBytes = settings.batch?.maxBytes ?? 200 * 1024 * 1024;
    const parts: string[] = [];
    const tooBig: string[] = [];
    ids.forEach((id, i) => {
      const body = bodies[i];
      if (body === null || body === undefined) return;
      const line = `{"custom_id":${JSON.stringify(id)},"method":"POST","url":"/v1/responses","body":${body}}\n`;
      if (Buffer.byteLength(line) > maxBytes) tooBig.push(id);
      else parts.push(line);
    });
    if (tooBig.length > 0) await this.failItems(settings, tooBig, `the request is larger than a batch input file may be (batch_max_bytes ${maxBytes})`);
    if (parts.length === 0) {
      await this.state.finishChunk(this.owner, chunk, 'batch');
      return null;
    }
    return Buffer.from(parts.join(''));
  }

  private async failItems(settings: RunSettings, ids: string[], message: string): Promise<void> {
    const data = await this.state.jobData(ids);
    const entries: DeliverEntry[] = [];
    ids.forEach((id, i) => {
      const d = data[i];
      if (d?.type === 'item') entries.push({ id, data: d, line: { ...resultsLine(lineContext(d, settings.model, 0), { kind: 'failed', error: { type: 'invalid_request', message, status: null } }), service_tier: 'batch' } });
    });
    await this.opts.deliver(this.opts.run, entries);
  }

  // ---- leaving batch mode (auto switched, mode changed, or the run was cancelled) ----

  private async leaveBatch(settings: RunSettings): Promise<void> {
    const provider = this.opts.provider(settings);
    for (const chunk of await this.state.chunks()) {
      if (chunk.batchId === undefined) {
        const found = chunk.fileId !== undefined && chunk.createTried ? await this.findBatchOf(provider, chunk.id) : null;
        if (found) await this.recordBatch(chunk, found);
        else await this.state.finishChunk(this.owner, chunk.id, 'online');
        continue;
      }
      if (!chunk.cancelRequested) {
        const batch = await provider.cancelBatch(chunk.batchId).catch((err: Error) => {
          this.opts.log.warn(`run ${this.opts.run}: cancelling provider batch ${chunk.batchId}: ${err.message}`);
          return null;
        });
        if (batch) {
          await this.state.saveChunk(this.owner, { ...chunk, cancelRequested: true });
          this.opts.log.info(`run ${this.opts.run}: cancelled provider batch ${chunk.batchId}; what it finished is kept, the rest goes online`);
          this.polls.delete(chunk.id);
        }
      }
    }
    for (;;) {
      const { moved, left } = await this.state.pendingToOnline(this.owner, ONLINE_MOVE);
      if (moved === 0 && left <= 0) break;
      await this.flushToOnline(settings);
      if (left <= 0) break;
    }
  }

  /** Items handed to online calls become jobs of the run's queue (adding a job id that exists does nothing). */
  private async flushToOnline(settings: RunSettings): Promise<void> {
    for (;;) {
      const handed = await this.state.handedOnline(ONLINE_MOVE);
      if (handed.length === 0) return;
      await this.opts.queue.addBulk(handed.map(({ id, data }) => ({ name: 'item', data, opts: jobOptions(id, settings.attempts) })));
      await this.state.confirmOnline(handed.map((h) => h.id));
    }
  }

  // ---- polling and collecting ----

  private async pollLive(settings: RunSettings, inBatch: boolean): Promise<void> {
    const provider = this.opts.provider(settings);
    const pollMs = settings.batch?.pollMs ?? 10_000;
    const maxPollMs = settings.batch?.maxPollMs ?? 300_000;
    const now = Date.now();
    for (const chunk of await this.state.chunks()) {
      if (chunk.batchId === undefined) continue;
      const poll = this.polls.get(chunk.id) ?? { nextAt: 0, intervalMs: pollMs, seen: '' };
      if (poll.nextAt > now) continue;
      const batch = await provider.getBatch(chunk.batchId);
      if (FINAL_BATCH_STATUSES.has(batch.status)) {
        await this.collect(settings, chunk, batch, inBatch);
        this.polls.delete(chunk.id);
        continue;
      }
      const seen = `${batch.status}:${batch.request_counts?.completed ?? 0}:${batch.request_counts?.failed ?? 0}`;
      const intervalMs = seen === poll.seen ? Math.min(maxPollMs, Math.round(poll.intervalMs * 1.5)) : pollMs;
      this.polls.set(chunk.id, { nextAt: now + intervalMs, intervalMs, seen });
    }
  }

  /** Every line of an ended batch becomes its item's line or goes round again; the chunk then ends. */
  private async collect(settings: RunSettings, chunk: ChunkRecord, batch: ProviderBatch, inBatch: boolean): Promise<void> {
    const provider = this.opts.provider(settings);
    const ids = await this.state.chunkIds(chunk.id);
    const data = await this.state.jobData(ids);
    const items = new Map<string, ItemJob>();
    ids.forEach((id, i) => {
      const d = data[i];
      if (d?.type === 'item') items.set(id, d);
    });
    const tries = await this.triesOf(ids);
    // What the provider bills: every answered line, settled against the chunk's max_cost reservation.
    const pricer = chunk.reservedNanos !== undefined && this.opts.pricer ? await this.opts.pricer(settings) : null;
    let spentNanos = 0;
    let delivered = 0;
    let again = 0;
    let batchOut: DeliverEntry[] = [];
    const flush = async () => {
      if (batchOut.length > 0) delivered += await this.opts.deliver(this.opts.run, batchOut);
      batchOut = [];
    };
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      for await (const out of provider.fileLines(fileId)) {
        const item = items.get(out.custom_id);
        if (!item) continue;
        const answer = await answerOfBatchLine(out, item, settings, tries.get(out.custom_id) ?? 0);
        if (answer.kind === 'line') {
          if (pricer) spentNanos += pricer.actualCallNanos(answer.line.model ?? settings.model, answer.line.usage);
          batchOut.push({ id: out.custom_id, line: answer.line, data: item });
          if (batchOut.length >= DELIVER_EVERY) await flush();
        } else {
          again++;
          if (answer.counts) await this.state.addTry(out.custom_id, chunk.id);
        }
      }
    }
    await flush();
    if (batch.status === 'failed') await this.refusedBatch(settings, chunk, batch, items, tries);
    const undelivered = inBatch ? 'batch' : 'online';
    const finished = await this.state.finishChunk(this.owner, chunk.id, undelivered);
    if (finished && chunk.reservedNanos !== undefined && settings.maxCost !== undefined) await this.costCap(settings).settle(`batch-${chunk.id}`, spentNanos);
    if (finished) {
      const rest = finished.back + finished.online;
      this.opts.log.info(
        `run ${this.opts.run}: provider batch ${batch.id} ${batch.status}: ${delivered} lines` +
          (rest > 0 ? `; ${rest} items ${inBatch ? 'go into a new batch' : 'go online'}${again > 0 ? ` (${again} answered with an error worth another try)` : ''}` : ''),
      );
    }
  }

  /**
   * A batch refused as a whole. A quota (enqueued tokens, batch creations) refuses it for now: its
   * items go into a later batch, once the live ones had time to finish, without using an attempt. A
   * file found wrong uses one attempt of each item.
   */
  private async refusedBatch(settings: RunSettings, chunk: ChunkRecord, batch: ProviderBatch, items: Map<string, ItemJob>, tries: Map<string, number>): Promise<void> {
    const verdict = failedBatchVerdict(batch);
    const message = `the provider refused the batch ${batch.id}: ${verdict.message}`;
    if (verdict.verdict === 'later') {
      this.holdSubmitsUntil = Date.now() + QUOTA_HOLD_POLLS * (settings.batch?.pollMs ?? 10_000);
      this.opts.log.warn(`run ${this.opts.run}: ${message}; its items go into a later batch`);
      return;
    }
    this.opts.log.warn(`run ${this.opts.run}: ${message}`);
    const final: DeliverEntry[] = [];
    for (const [id, item] of items) {
      const attempt = (tries.get(id) ?? 0) + 1;
      if (attempt >= settings.attempts) final.push({ id, data: item, line: { ...resultsLine(lineContext(item, settings.model, attempt), { kind: 'failed', error: { type: 'invalid_request', message, status: null } }), service_tier: 'batch' } });
      else await this.state.addTry(id, chunk.id);
    }
    await this.opts.deliver(this.opts.run, final);
  }

  private async triesOf(ids: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (ids.length === 0) return out;
    const raw = await this.opts.redis.hmget(this.state.keys.tries, ...ids);
    ids.forEach((id, i) => out.set(id, Number(raw[i] ?? 0)));
    return out;
  }

  // ---- an API without batches ----

  private async stopForMissingApi(settings: RunSettings, err: BatchApiUnavailableError): Promise<void> {
    const reason = `mode ${settings.mode} needs the provider's Batch API, but ${err.message}: run it again with --mode online or --mode flex (items parked for a batch are sent then; nothing is lost)`;
    this.opts.log.error(`run ${this.opts.run} stopped: ${reason}`);
    await Promise.all([this.opts.queue.pause(), this.store.markStopped(reason, 'no_batch_api')]);
  }
}

/** The facts of a line the driver writes itself: no call of the item's was timed or answered 429. */
function lineContext(item: LineContext['item'], model: string, attempts: number): LineContext {
  return { item, model, attempts, latencyMs: null, rateLimited: 0, finishedAt: new Date() };
}
