import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import { batchKeys, runKeys, type BatchKeys } from './keys.js';
import { luaCommands } from './lua-commands.js';

/**
 * A run's provider-batch state in Redis (docs/modes.md#what-survives-what). Items are parked (job id ->
 * request body and job data) by the run's workers; the one process holding the run's batch lease
 * claims them into chunks, submits each chunk as one provider batch and records its file id and batch
 * id right after each step; when a batch ends, the items whose line was not delivered go back to the
 * pending list, or online. Every move is one Lua call, so a crash leaves each item in exactly one
 * place: pending, in a chunk, handed to the queue, or done.
 */

/** One chunk of parked items, submitted (or being submitted) as one provider batch. */
export interface ChunkRecord {
  id: string;
  /** Items in the chunk. */
  n: number;
  /** Epoch ms the chunk was claimed. */
  createdAt: number;
  fileId?: string;
  batchId?: string;
  /** Epoch ms the provider batch was created. */
  submittedAt?: number;
  /** The max_cost reservation of the chunk (nano-dollars), settled when the batch returns. */
  reservedNanos?: number;
  /** Set right before the provider batch is created: a crash after it may have left a batch to adopt. */
  createTried?: boolean;
  /** Set once `cancel` was sent for the batch (the run was cancelled, or `auto` moved its items online). */
  cancelRequested?: boolean;
}

export type ParkOutcome = 'parked' | 'online' | 'done' | 'gone';
export type UnparkOutcome = 'live' | 'online';

/** The scripts are in src/queue/commands/batch*.lua, each with a header stating its KEYS, ARGV and output. */
interface BatchCommands {
  respoolBatchPark(...args: string[]): Promise<ParkOutcome>;
  respoolBatchUnpark(...args: string[]): Promise<UnparkOutcome>;
  respoolBatchClaim(...args: string[]): Promise<string[]>;
  respoolBatchSaveChunk(...args: string[]): Promise<number>;
  respoolBatchFinishChunk(...args: string[]): Promise<[number, number]>;
  respoolBatchPendingToOnline(...args: string[]): Promise<[number, number]>;
  respoolBatchLease(...args: string[]): Promise<number>;
  respoolBatchRelease(...args: string[]): Promise<number>;
  respoolBatchAddTry(...args: string[]): Promise<number>;
}

function commands(redis: Redis) {
  return luaCommands<BatchCommands>(redis, {
    respoolBatchPark: { file: 'batchPark' },
    respoolBatchUnpark: { file: 'batchUnpark' },
    respoolBatchClaim: { file: 'batchClaim' },
    respoolBatchSaveChunk: { file: 'batchSaveChunk' },
    respoolBatchFinishChunk: { file: 'batchFinishChunk' },
    respoolBatchPendingToOnline: { file: 'batchPendingToOnline' },
    respoolBatchLease: { file: 'batchLease' },
    respoolBatchRelease: { file: 'batchRelease' },
    respoolBatchAddTry: { file: 'batchAddTry' },
  });
}

/** Bytes a batch input line adds to its body: `{"custom_id":"<33>","method":"POST","url":"/v1/responses","body":}` and a newline. */
export const LINE_OVERHEAD_BYTES = 96;

/** The Redis side of one run's batches. */
export class BatchState {
  readonly keys: BatchKeys;
  private readonly ledger: string;
  private readonly meta: string;

  constructor(
    private readonly redis: Redis,
    readonly run: string,
    prefix?: string,
  ) {
    this.keys = batchKeys(run, prefix);
    const rk = runKeys(run, prefix);
    this.ledger = rk.ledger;
    this.meta = rk.meta;
  }

  /** Parks an item for the next batch (idempotent); see commands/batchPark.lua for the outcomes. */
  park(id: string, body: Record<string, unknown>, data: JobData): Promise<ParkOutcome> {
    const k = this.keys;
    return commands(this.redis).respoolBatchPark(k.body, k.data, k.pending, k.online, this.ledger, this.meta, id, JSON.stringify(body), JSON.stringify(data));
  }

  /** An item about to be called online: `live` while a batch holds it (no call then). */
  unpark(id: string): Promise<UnparkOutcome> {
    const k = this.keys;
    return commands(this.redis).respoolBatchUnpark(k.body, k.data, k.inChunk, k.online, id);
  }

  /** True when the run has parked items, chunks or items being handed online. */
  async exists(): Promise<boolean> {
    const k = this.keys;
    return (await this.redis.exists(k.body, k.chunks, k.toOnline)) > 0;
  }

  takeLease(owner: string, ms: number): Promise<boolean> {
    return commands(this.redis).respoolBatchLease(this.keys.lease, owner, String(ms)).then((r) => Number(r) === 1);
  }

  async releaseLease(owner: string): Promise<void> {
    await commands(this.redis).respoolBatchRelease(this.keys.lease, owner);
  }

  pendingCount(): Promise<number> {
    return this.redis.llen(this.keys.pending);
  }

  /** Moves pending items into a new chunk (lease holder only); null when nothing is pending. */
  async claimChunk(owner: string, maxRequests: number, maxBytes: number, now = Date.now()): Promise<{ chunk: string; ids: string[] } | null> {
    const k = this.keys;
    const out = await commands(this.redis).respoolBatchClaim(
      k.pending, k.body, k.chunks, k.inChunk, k.seq, k.lease,
      owner, String(maxRequests), String(maxBytes), String(LINE_OVERHEAD_BYTES), String(now), k.chunkItemsPrefix, randomBytes(6).toString('hex'),
    );
    if (!out || out.length === 0) return null;
    return { chunk: out[0]!, ids: out.slice(1) };
  }

  async chunks(): Promise<ChunkRecord[]> {
    const all = await this.redis.hvals(this.keys.chunks);
    return all.map((v) => JSON.parse(v) as ChunkRecord).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id, 'en', { numeric: true }));
  }

  chunkIds(chunk: string): Promise<string[]> {
    return this.redis.lrange(this.keys.chunkItemsPrefix + chunk, 0, -1);
  }

  /** Writes a chunk's record (lease holder only); false when the lease or the chunk is gone. */
  async saveChunk(owner: string, record: ChunkRecord): Promise<boolean> {
    return Number(await commands(this.redis).respoolBatchSaveChunk(this.keys.chunks, this.keys.lease, owner, record.id, JSON.stringify(record))) === 1;
  }

  /** The request bodies of these items, as JSON text (null for an item no longer parked). */
  async bodies(ids: string[]): Promise<Array<string | null>> {
    return ids.length === 0 ? [] : this.redis.hmget(this.keys.body, ...ids);
  }

  async jobData(ids: string[]): Promise<Array<JobData | null>> {
    if (ids.length === 0) return [];
    return (await this.redis.hmget(this.keys.data, ...ids)).map((v) => (v === null ? null : (JSON.parse(v) as JobData)));
  }

  /**
   * Counts one more batch answer worth another try, once per chunk (reading a chunk's files again
   * after a crash counts nothing twice); returns the count.
   */
  async addTry(id: string, chunk: string): Promise<number> {
    return Number(await commands(this.redis).respoolBatchAddTry(this.keys.tries, id, chunk));
  }

  /** Ends a chunk: undelivered items go back to pending (`batch`) or to the online hand-over. */
  async finishChunk(owner: string, chunk: string, undelivered: 'batch' | 'online'): Promise<{ back: number; online: number } | null> {
    const k = this.keys;
    const [back, online] = await commands(this.redis).respoolBatchFinishChunk(
      k.chunks, k.inChunk, k.body, k.data, k.pending, k.toOnline, k.online, this.ledger, k.lease, k.tries,
      owner, chunk, k.chunkItemsPrefix + chunk, undelivered,
    );
    if (Number(back) < 0) return null;
    return { back: Number(back), online: Number(online) };
  }

  /** Hands up to `max` pending items over to the queue (online). */
  async pendingToOnline(owner: string, max: number): Promise<{ moved: number; left: number }> {
    const k = this.keys;
    const [moved, left] = await commands(this.redis).respoolBatchPendingToOnline(k.pending, k.body, k.data, k.inChunk, k.toOnline, k.online, this.ledger, k.lease, owner, String(max));
    return { moved: Number(moved), left: Number(left) };
  }

  /** Items handed over to the queue and not yet confirmed added. */
  async handedOnline(max = 500): Promise<Array<{ id: string; data: JobData }>> {
    const out: Array<{ id: string; data: JobData }> = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.toOnline, cursor, 'COUNT', max);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, data: JSON.parse(flat[i + 1]!) as JobData });
    } while (cursor !== '0' && out.length < max);
    return out;
  }

  /** The hand-over is done for these items: they are jobs in the run's queue. */
  async confirmOnline(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.hdel(this.keys.toOnline, ...ids);
  }

  /** Deletes every batch key of the run (`clean`). */
  async deleteAll(): Promise<void> {
    const k = this.keys;
    const chunkLists = (await this.redis.hkeys(k.chunks)).map((c) => k.chunkItemsPrefix + c);
    await this.redis.del(k.body, k.data, k.pending, k.chunks, k.inChunk, k.toOnline, k.online, k.tries, k.seq, k.lease, ...chunkLists);
  }
}
