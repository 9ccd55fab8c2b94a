import type { Redis } from 'ioredis';
import type { RunKeys } from './keys.js';
import { luaCommands } from './lua-commands.js';

/**
 * The run's ledger. It makes enqueueing idempotent across crashes and restarts, keeps a re-run job
 * from paying for a second API call, finds duplicate custom_ids, and tells when a run is complete.
 *
 * Items in flight live in one hash, job id -> a state mark followed by the item's source text:
 * "-" claimed, "=" its line delivered to the run's results stream by a worker. (The mark is always
 * there, so a source that itself starts with one, like a file named "=prices.csv", cannot be misread.)
 *
 * When the collector has written an item's line, the item leaves that hash for the compact written
 * set: 65,536 small hashes `<ledger>:w:<hhhh>` (the job id's first 4 hex digits), each field the next
 * 12 hex digits as 6 raw bytes, each value a 23-bit fingerprint of the source. Small hashes are kept
 * by Redis as listpacks, about 13 bytes per entry, so a written item costs a few bytes instead of its
 * job id and path (see docs/architecture.md for measured figures). Together the two forms keep 64 bits
 * of the 128-bit job id per written item, and an item's source fingerprint, which is all the
 * decisions below need:
 *
 * - in flight, or written: a second delivery is refused (exactly one line leaves the workers);
 * - written with the same source fingerprint: a re-run skips the item;
 * - written with another fingerprint: the custom_id is a duplicate.
 *
 * Completion: the in-flight hash is empty once every item is written, so items = HLEN + written.
 */

export type ClaimState = 'new' | 'pending' | 'done' | 'duplicate';

export interface Claim {
  state: ClaimState;
  /** For duplicates: the source that claimed the custom_id first (unknown once that item is written). */
  firstSource?: string;
}

/** The written-set fingerprint of an item known from a results line that names no source. */
const ANY_SOURCE_FP = 8388608;

/** Number of hex digits of the job id that name a written-set bucket; see the module comment. */
export const WRITTEN_BUCKET_HEX = 4;

// Shared Lua helpers: where a written id lives, and the fingerprint of a source. Other scripts that
// read the ledger (retry, the results rewrite) include them too. KEYS[1] is always the in-flight hash; its name + ":w:" prefixes the buckets.
export const WRITTEN_HELPERS = `
-- Job ids are "i" + 32 hex digits (queue/keys.ts); any other id is kept whole in bucket "_".
local function standard(id) return #id == 33 and string.find(id, '^i%x+$') ~= nil end
local function wkey(id)
  if not standard(id) then return KEYS[1] .. ':w:_' end
  return KEYS[1] .. ':w:' .. string.sub(id, 2, ${1 + WRITTEN_BUCKET_HEX})
end
local function wfield(id)
  if not standard(id) then return id end
  local hex = string.sub(id, ${2 + WRITTEN_BUCKET_HEX}, ${13 + WRITTEN_BUCKET_HEX})
  return (string.gsub(hex, '..', function(h) return string.char(tonumber(h, 16)) end))
end
-- 23 bits: the largest that Redis keeps in a 3-byte listpack integer.
local function srcfp(src) return tonumber(string.sub(redis.sha1hex(src), 1, 6), 16) % 8388608 end
local function writtenfp(id) return redis.call('HGET', wkey(id), wfield(id)) end
-- Items known from a line of the results file (not from this Redis) keep the fingerprint of their
-- source's last part, file name and line ("reviews.csv:7"), as -1 - fp: the line's paths are relative
-- to wherever the run was started, the ledger's absolute. A line that names no source (a provider
-- batch line) matches any source.
local ANY_SOURCE = ${ANY_SOURCE_FP}
local function basefp(base) return -1 - srcfp(base) end
local function samesource(fp, src)
  local f = tonumber(fp)
  return f == srcfp(src) or f == ANY_SOURCE or (f < 0 and f == basefp(string.match(src, '[^/\\\\]*$')))
end
`;

// For each (id, source): new -> claimed; same source -> pending or done; another source -> duplicate.
const CLAIM_LUA = `${WRITTEN_HELPERS}
local out = {}
for i = 1, #ARGV, 2 do
  local id, src = ARGV[i], ARGV[i + 1]
  local v = redis.call('HGET', KEYS[1], id)
  if v then
    local stored = string.sub(v, 2)
    if stored ~= src then
      out[#out + 1] = 'dup:' .. stored
    elseif string.sub(v, 1, 1) == '=' then
      out[#out + 1] = 'done'
    else
      out[#out + 1] = 'pending'
    end
  else
    local fp = writtenfp(id)
    if not fp then
      redis.call('HSET', KEYS[1], id, '-' .. src)
      out[#out + 1] = 'new'
    elseif samesource(fp, src) then
      out[#out + 1] = 'done'
    else
      out[#out + 1] = 'dup:'
    end
  end
end
return out
`;

// Moves ids from the in-flight hash to the written set, counts them, and clears the collector's
// in-progress batch in one atomic step: after a crash, either the whole batch counts as written or
// none of it does. An id never claimed (a line made from a failed job) counts too, as of any source.
// A run whose meta is gone (Redis lost its data mid-batch) gets no marks: its lines are in the file,
// which the next run reads back with their sources. KEYS: ledger, written, writing, meta.
const MARK_WRITTEN_LUA = `${WRITTEN_HELPERS}
local n = 0
if redis.call('HEXISTS', KEYS[4], 'settings') == 0 then
  redis.call('DEL', KEYS[3])
  return 0
end
for i = 1, #ARGV do
  local id = ARGV[i]
  if not writtenfp(id) then
    local v = redis.call('HGET', KEYS[1], id)
    redis.call('HSET', wkey(id), wfield(id), v and srcfp(string.sub(v, 2)) or ANY_SOURCE)
    if v then redis.call('HDEL', KEYS[1], id) end
    n = n + 1
  end
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
redis.call('DEL', KEYS[3])
return n
`;

// Items whose line is in the results file, read back into a ledger that did not know them (after
// `clean`, a Redis that lost its data, or a file moved to another Redis): each becomes written, with
// its source as the line gives it (see samesource), and counted. An item in flight here is written too:
// its line is in the file already. An item seen again in the file is marked superseded, so the
// collector keeps only its last line. KEYS: ledger, written, lineCounts, superseded.
// ARGV: (id, source base or "" for any, status, "1" when seen before in the file) quadruples.
const SEED_LUA = `${WRITTEN_HELPERS}
local n = 0
for i = 1, #ARGV, 4 do
  local id, base, status = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if ARGV[i + 3] == '1' then redis.call('HSETNX', KEYS[4], id, '1') end
  if not writtenfp(id) then
    local v = redis.call('HGET', KEYS[1], id)
    local fp = ANY_SOURCE
    if v then
      fp = srcfp(string.sub(v, 2))
      redis.call('HDEL', KEYS[1], id)
    elseif base ~= '' then
      fp = basefp(base)
    end
    redis.call('HSET', wkey(id), wfield(id), fp)
    redis.call('HINCRBY', KEYS[3], status, 1)
    n = n + 1
  end
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
return n
`;

// For each id: 2 written, 1 delivered, 0 claimed or unknown.
const STATES_LUA = `${WRITTEN_HELPERS}
local out = {}
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    out[i] = string.sub(v, 1, 1) == '=' and 1 or 0
  else
    out[i] = writtenfp(ARGV[i]) and 2 or 0
  end
end
return out
`;

// Workers hand over items' lines: each is marked delivered and appended to the results stream in one
// step. A second delivery (a job that ran twice) is dropped here, so the stream holds one line per item.
// The item's call claim ends with its delivery. A run whose meta is gone (cleaned, or Redis lost its
// data) takes no line (-1): it would only leave a half ledger that the next run misreads.
// KEYS: ledger, results, calls, meta.
const DELIVER_LUA = `${WRITTEN_HELPERS}
local out = {}
local lost = redis.call('HEXISTS', KEYS[4], 'settings') == 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local v = redis.call('HGET', KEYS[1], id)
  local mark = v and string.sub(v, 1, 1) or ''
  local written = not v and writtenfp(id)
  if lost or (not v and not written) then
    out[#out + 1] = -1
  elseif mark == '=' or written then
    redis.call('HDEL', KEYS[3], id)
    out[#out + 1] = 0
  else
    redis.call('HSET', KEYS[1], id, '=' .. (v and string.sub(v, 2) or ''))
    redis.call('XADD', KEYS[2], '*', 'id', id, 'line', ARGV[i + 1])
    redis.call('HDEL', KEYS[3], id)
    out[#out + 1] = 1
  end
end
return out
`;

// The call claim, taken right before each API call of an item (docs/architecture.md#exactly-once):
// whatever the job's history or timing, a job whose item already has its line (delivered or written)
// makes no call, and neither does a job while another job's claim on the item is live. A claim is
// "<owner> <expiry ms>" in the calls hash; it ends with the item's delivery, when its job's attempt
// fails (released), or when it lapses (its worker died): then the item may be called again.
// KEYS: ledger, calls, meta. ARGV: ttl ms, then (id, owner) pairs.
// Answers per item: "go", "done", "busy:<ms left>", or "lost" when the run's meta is gone.
const CLAIM_CALL_LUA = `${WRITTEN_HELPERS}
local out = {}
if redis.call('HEXISTS', KEYS[3], 'settings') == 0 then
  for i = 2, #ARGV, 2 do out[#out + 1] = 'lost' end
  return out
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local id, owner = ARGV[i], ARGV[i + 1]
  local v = redis.call('HGET', KEYS[1], id)
  if (v and string.sub(v, 1, 1) == '=') or (not v and writtenfp(id)) then
    out[#out + 1] = 'done'
  elseif not v then
    out[#out + 1] = 'lost'
  else
    local c = redis.call('HGET', KEYS[2], id)
    local sp = c and string.find(c, ' ', 1, true)
    local holder = sp and string.sub(c, 1, sp - 1)
    local expiry = sp and tonumber(string.sub(c, sp + 1)) or 0
    if holder and holder ~= owner and expiry > now then
      out[#out + 1] = 'busy:' .. (expiry - now)
    else
      redis.call('HSET', KEYS[2], id, owner .. ' ' .. (now + ttl))
      out[#out + 1] = 'go'
    end
  end
end
return out
`;

// Ends claims whose attempt failed, so the job's next attempt (another owner) need not wait for them.
// KEYS: calls. ARGV: (id, owner) pairs.
const RELEASE_CALL_LUA = `
for i = 1, #ARGV, 2 do
  local c = redis.call('HGET', KEYS[1], ARGV[i])
  if c and string.sub(c, 1, #ARGV[i + 1] + 1) == ARGV[i + 1] .. ' ' then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
`;

// Puts written items back in flight as claimed (for a retry): out of the written set, into the hash,
// and no longer counted as written. Items not written are left as they are.
const UNWRITE_LUA = `${WRITTEN_HELPERS}
local n = 0
for i = 1, #ARGV, 2 do
  local id, src = ARGV[i], ARGV[i + 1]
  if writtenfp(id) and not redis.call('HGET', KEYS[1], id) then
    redis.call('HDEL', wkey(id), wfield(id))
    redis.call('HSET', KEYS[1], id, '-' .. src)
    n = n + 1
  end
end
if n > 0 then redis.call('DECRBY', KEYS[2], n) end
return n
`;

// Items and lines written, read in one step (a batch moving between the two forms is never counted
// twice or not at all).
const COUNTS_LUA = `
return { redis.call('HLEN', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0') }
`;

interface LedgerCommands {
  respoolDeliver(ledger: string, results: string, calls: string, meta: string, ...idLinePairs: string[]): Promise<number[]>;
  respoolClaimCall(ledger: string, calls: string, meta: string, ttlMs: string, ...idOwnerPairs: string[]): Promise<string[]>;
  respoolReleaseCall(calls: string, ...idOwnerPairs: string[]): Promise<number>;
  respoolClaim(ledger: string, ...args: string[]): Promise<string[]>;
  respoolMarkWritten(ledger: string, written: string, writing: string, meta: string, ...ids: string[]): Promise<number>;
  respoolLedgerStates(ledger: string, ...ids: string[]): Promise<number[]>;
  respoolLedgerCounts(ledger: string, written: string): Promise<[number, number]>;
  respoolUnwrite(ledger: string, written: string, ...args: string[]): Promise<number>;
  respoolSeed(ledger: string, written: string, lineCounts: string, superseded: string, ...args: string[]): Promise<number>;
}

function commands(redis: Redis): LedgerCommands {
  return luaCommands<LedgerCommands>(redis, {
    respoolClaim: { keys: 1, lua: CLAIM_LUA },
    respoolDeliver: { keys: 4, lua: DELIVER_LUA },
    respoolClaimCall: { keys: 3, lua: CLAIM_CALL_LUA },
    respoolReleaseCall: { keys: 1, lua: RELEASE_CALL_LUA },
    respoolMarkWritten: { keys: 4, lua: MARK_WRITTEN_LUA },
    respoolLedgerStates: { keys: 1, lua: STATES_LUA },
    respoolLedgerCounts: { keys: 2, lua: COUNTS_LUA },
    respoolUnwrite: { keys: 2, lua: UNWRITE_LUA },
    respoolSeed: { keys: 4, lua: SEED_LUA },
  });
}

export async function claim(redis: Redis, keys: RunKeys, entries: Array<{ id: string; source: string }>): Promise<Claim[]> {
  if (entries.length === 0) return [];
  const raw = await commands(redis).respoolClaim(keys.ledger, ...entries.flatMap((e) => [e.id, e.source]));
  return raw.map((r) => {
    if (!r.startsWith('dup:')) return { state: r as ClaimState };
    const first = r.slice(4);
    return first ? { state: 'duplicate', firstSource: first } : { state: 'duplicate' };
  });
}

export async function markWritten(redis: Redis, keys: RunKeys, ids: string[]): Promise<number> {
  if (ids.length === 0) {
    await redis.del(keys.writing);
    return 0;
  }
  return commands(redis).respoolMarkWritten(keys.ledger, keys.written, keys.writing, keys.meta, ...ids);
}

/**
 * For each line: false when the item's line had already been delivered (its job ran twice), or when
 * the run's meta is gone (the run was cleaned, or Redis lost its data).
 */
export async function deliver(redis: Redis, keys: RunKeys, lines: Array<{ id: string; line: string }>): Promise<boolean[]> {
  if (lines.length === 0) return [];
  const raw = await commands(redis).respoolDeliver(keys.ledger, keys.results, callsKey(keys), keys.meta, ...lines.flatMap((l) => [l.id, l.line]));
  return raw.map((v) => v === 1);
}

/** The hash of call claims: job id -> "<owner> <expiry ms>" (see CLAIM_CALL_LUA). */
export function callsKey(keys: RunKeys): string {
  return `${keys.ledger}:calls`;
}

/**
 * What a job may do right before an API call for its item: `go` (the claim is its own now), `done`
 * (the item's line is delivered or written: no call, no line), `busy` (another job's live claim; try
 * again after `waitMs`), `lost` (the run's meta is gone from Redis: no call).
 */
export type CallClaim = { state: 'go' } | { state: 'done' } | { state: 'busy'; waitMs: number } | { state: 'lost' };

export async function claimCalls(redis: Redis, keys: RunKeys, ttlMs: number, entries: Array<{ id: string; owner: string }>): Promise<CallClaim[]> {
  if (entries.length === 0) return [];
  const raw = await commands(redis).respoolClaimCall(keys.ledger, callsKey(keys), keys.meta, String(ttlMs), ...entries.flatMap((e) => [e.id, e.owner]));
  return raw.map((r): CallClaim => (r.startsWith('busy:') ? { state: 'busy', waitMs: Number(r.slice(5)) } : { state: r as 'go' | 'done' | 'lost' }));
}

/** Ends the claims these owners hold (an attempt that failed); claims of other owners stay. */
export async function releaseCalls(redis: Redis, keys: RunKeys, entries: Array<{ id: string; owner: string }>): Promise<void> {
  if (entries.length > 0) await commands(redis).respoolReleaseCall(callsKey(keys), ...entries.flatMap((e) => [e.id, e.owner]));
}

async function states(redis: Redis, keys: RunKeys, ids: string[]): Promise<number[]> {
  if (ids.length === 0) return [];
  return commands(redis).respoolLedgerStates(keys.ledger, ...ids);
}

/** For each id: true once its line is delivered or written (running it again would pay twice). */
export async function areDone(redis: Redis, keys: RunKeys, ids: string[]): Promise<boolean[]> {
  return (await states(redis, keys, ids)).map((s) => s >= 1);
}

export async function areWritten(redis: Redis, keys: RunKeys, ids: string[]): Promise<boolean[]> {
  return (await states(redis, keys, ids)).map((s) => s === 2);
}

export async function ledgerCounts(redis: Redis, keys: RunKeys): Promise<{ items: number; written: number }> {
  const [inFlight, written] = await commands(redis).respoolLedgerCounts(keys.ledger, keys.written);
  return { items: inFlight + written, written };
}

/**
 * Puts written items back in flight as claimed, so that their jobs can run again and deliver a new
 * line (a retry of failed items). Returns how many were written; the others are left alone.
 */
export async function unmarkWritten(redis: Redis, keys: RunKeys, entries: Array<{ id: string; source: string }>): Promise<number> {
  if (entries.length === 0) return 0;
  return commands(redis).respoolUnwrite(keys.ledger, keys.written, ...entries.flatMap((e) => [e.id, e.source]));
}

/** An item whose line is in the results file: `base` is its source's file name and line (`reviews.csv:7`), or null when the line names none. */
export interface FileItem {
  id: string;
  base: string | null;
  status: string;
  /** The file has an earlier line for the same item. */
  repeated: boolean;
}

/** Records items found in the results file as written (see SEED_LUA); returns how many were new to the ledger. */
export async function seedWritten(redis: Redis, keys: RunKeys, items: FileItem[]): Promise<number> {
  if (items.length === 0) return 0;
  return commands(redis).respoolSeed(keys.ledger, keys.written, keys.lineCounts, keys.superseded, ...items.flatMap((i) => [i.id, i.base ?? '', i.status, i.repeated ? '1' : '0']));
}

/** Deletes the ledger: the in-flight hash and every bucket of the written set. */
export async function deleteLedger(redis: Redis, keys: RunKeys): Promise<void> {
  await redis.del(keys.ledger, callsKey(keys));
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.ledger}:w:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
}
