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

// Shared: is the item's line delivered or written (its ledger entry is gone or marked "=")?
const DONE_HELPER = `
local function done(ledger, id)
  local v = redis.call('HGET', ledger, id)
  return (not v) or string.sub(v, 1, 1) == '='
end
`;

// KEYS: body, data, pending, online, ledger, meta. ARGV: id, body JSON, data JSON.
// Returns 'parked' (new, or already parked or in a chunk), 'online' (the item was sent online once:
// it stays online), 'done' (its line is delivered or written), 'gone' (the run was cleaned).
const PARK_LUA = `${DONE_HELPER}
if redis.call('HEXISTS', KEYS[6], 'settings') == 0 then return 'gone' end
local id = ARGV[1]
if redis.call('SISMEMBER', KEYS[4], id) == 1 then return 'online' end
if redis.call('HEXISTS', KEYS[1], id) == 1 then return 'parked' end
if done(KEYS[5], id) then return 'done' end
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('RPUSH', KEYS[3], id)
return 'parked'
`;

// KEYS: body, data, inChunk, online. ARGV: id. An item about to be called online: 'live' while it is
// in a chunk (its batch answers it; no call), else it leaves the parked set for good ('online').
// Its id may stay in the pending list: claims skip ids that are no longer parked.
const UNPARK_LUA = `
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[3], id) == 1 then return 'live' end
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('SADD', KEYS[4], id)
return 'online'
`;

// KEYS: pending, body, chunks, inChunk, seq, lease. ARGV: owner, max requests, max bytes, per-line
// overhead bytes, now ms, chunk items key prefix, a random suffix (chunk ids name provider batches in
// their metadata, so they must not repeat across runs or Redis prefixes on one key). Moves up to max requests pending items (and at most
// max bytes of request lines) into a new chunk, if the caller holds the lease. Returns {chunk id, ids...}
// or {} when nothing is pending.
const CLAIM_LUA = `
if redis.call('GET', KEYS[6]) ~= ARGV[1] then return {} end
local maxn, maxbytes, overhead = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ids, bytes = {}, 0
while #ids < maxn do
  local id = redis.call('LINDEX', KEYS[1], 0)
  if not id then break end
  local size = redis.call('HSTRLEN', KEYS[2], id)
  if size == 0 or redis.call('HEXISTS', KEYS[4], id) == 1 then
    redis.call('LPOP', KEYS[1])
  else
    -- One item always fits (an item too big for any file is refused when the chunk is packed).
    if #ids > 0 and bytes + size + overhead > maxbytes then break end
    redis.call('LPOP', KEYS[1])
    ids[#ids + 1] = id
    bytes = bytes + size + overhead
  end
end
if #ids == 0 then return {} end
local chunk = 'c' .. redis.call('INCR', KEYS[5]) .. '-' .. ARGV[7]
local list = ARGV[6] .. chunk
for _, id in ipairs(ids) do
  redis.call('RPUSH', list, id)
  redis.call('HSET', KEYS[4], id, chunk)
end
redis.call('HSET', KEYS[3], chunk, cjson.encode({id = chunk, n = #ids, createdAt = tonumber(ARGV[5])}))
local out = {chunk}
for _, id in ipairs(ids) do out[#out + 1] = id end
return out
`;

// KEYS: chunks, lease. ARGV: owner, chunk id, record JSON. Writes the chunk's record if the caller
// holds the lease and the chunk still exists. Returns 1 when written.
const SAVE_CHUNK_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
`;

// KEYS: chunks, inChunk, body, data, pending, toOnline, online, ledger, lease, tries.
// ARGV: owner, chunk id, chunk items key, where the undelivered go ('batch' or 'online').
// Ends a chunk whose batch is over: each item whose line is delivered or written leaves the parked
// set; each other one goes back to pending (a new batch) or to the queue hand-over (online).
// Returns {back to pending, handed to online}.
const FINISH_CHUNK_LUA = `${DONE_HELPER}
if redis.call('GET', KEYS[9]) ~= ARGV[1] then return {-1, -1} end
local ids = redis.call('LRANGE', ARGV[3], 0, -1)
local back, online = 0, 0
for _, id in ipairs(ids) do
  redis.call('HDEL', KEYS[2], id)
  if done(KEYS[8], id) then
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[10], id)
  elseif ARGV[4] == 'online' then
    local data = redis.call('HGET', KEYS[4], id)
    if data then
      redis.call('HSET', KEYS[6], id, data)
      redis.call('SADD', KEYS[7], id)
      online = online + 1
    end
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
  else
    redis.call('RPUSH', KEYS[5], id)
    back = back + 1
  end
end
redis.call('DEL', ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[2])
return {back, online}
`;

// KEYS: pending, body, data, inChunk, toOnline, online, ledger, lease. ARGV: owner, max.
// Hands up to max pending items to the queue hand-over (online, or to be ended as cancelled).
// Returns how many were handed over and how many are still pending.
const PENDING_TO_ONLINE_LUA = `${DONE_HELPER}
if redis.call('GET', KEYS[8]) ~= ARGV[1] then return {0, -1} end
local n = 0
local max = tonumber(ARGV[2])
while n < max do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  local data = redis.call('HGET', KEYS[3], id)
  if data and redis.call('HEXISTS', KEYS[4], id) == 0 then
    if not done(KEYS[7], id) then
      redis.call('HSET', KEYS[5], id, data)
      redis.call('SADD', KEYS[6], id)
      n = n + 1
    end
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return {n, redis.call('LLEN', KEYS[1])}
`;

// KEYS: lease. ARGV: owner, ms. Takes the lease when free, or renews it when the caller holds it.
const LEASE_LUA = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
`;

// KEYS: lease. ARGV: owner.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

interface BatchCommands {
  respoolBatchPark(...args: string[]): Promise<ParkOutcome>;
  respoolBatchUnpark(...args: string[]): Promise<UnparkOutcome>;
  respoolBatchClaim(...args: string[]): Promise<string[]>;
  respoolBatchSaveChunk(...args: string[]): Promise<number>;
  respoolBatchFinishChunk(...args: string[]): Promise<[number, number]>;
  respoolBatchPendingToOnline(...args: string[]): Promise<[number, number]>;
  respoolBatchLease(...args: string[]): Promise<number>;
  respoolBatchRelease(...args: string[]): Promise<number>;
}

function commands(redis: Redis) {
  return luaCommands<BatchCommands>(redis, {
    respoolBatchPark: { keys: 6, lua: PARK_LUA },
    respoolBatchUnpark: { keys: 4, lua: UNPARK_LUA },
    respoolBatchClaim: { keys: 6, lua: CLAIM_LUA },
    respoolBatchSaveChunk: { keys: 2, lua: SAVE_CHUNK_LUA },
    respoolBatchFinishChunk: { keys: 10, lua: FINISH_CHUNK_LUA },
    respoolBatchPendingToOnline: { keys: 8, lua: PENDING_TO_ONLINE_LUA },
    respoolBatchLease: { keys: 1, lua: LEASE_LUA },
    respoolBatchRelease: { keys: 1, lua: RELEASE_LUA },
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

  /** Parks an item for the next batch (idempotent); see PARK_LUA for the outcomes. */
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

  /** Counts one more batch answer worth another try; returns the count. */
  addTry(id: string): Promise<number> {
    return this.redis.hincrby(this.keys.tries, id, 1);
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
