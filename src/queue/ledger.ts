import type { Redis } from 'ioredis';
import type { RunKeys } from './keys.js';
import { luaCommands } from './lua-commands.js';

/**
 * The run's ledger: one hash field per item, job id -> a state mark followed by the item's source
 * text: "-" claimed, "=" its line delivered to the run's results stream by a worker, "+" its line
 * written to the results file by the collector. (The mark is always there, so a source that itself
 * starts with one of these characters, like a file named "=prices.csv", cannot be misread.) It makes enqueueing idempotent across crashes and
 * restarts, keeps a re-run job from paying for a second API call, finds duplicate custom_ids, and
 * tells when a run is complete (written == items).
 */

export type ClaimState = 'new' | 'pending' | 'done' | 'duplicate';

export interface Claim {
  state: ClaimState;
  /** For duplicates: the source that claimed the custom_id first. */
  firstSource?: string;
}

// For each (id, source): new -> claimed; same source -> pending or written; another source -> duplicate.
const CLAIM_LUA = `
local out = {}
for i = 1, #ARGV, 2 do
  local id, src = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', KEYS[1], id, '-' .. src) == 1 then
    out[#out + 1] = 'new'
  else
    local v = redis.call('HGET', KEYS[1], id)
    local mark = string.sub(v, 1, 1)
    local done = mark == '+' or mark == '='
    local stored = string.sub(v, 2)
    if stored ~= src then
      out[#out + 1] = 'dup:' .. stored
    elseif done then
      out[#out + 1] = 'done'
    else
      out[#out + 1] = 'pending'
    end
  end
end
return out
`;

// Marks ids written and clears the collector's in-progress batch in one atomic step: after a crash,
// either the whole batch counts as written or none of it does.
const MARK_WRITTEN_LUA = `
local n = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if not v then
    redis.call('HSET', KEYS[1], ARGV[i], '+')
    n = n + 1
  else
    if string.sub(v, 1, 1) ~= '+' then
      redis.call('HSET', KEYS[1], ARGV[i], '+' .. string.sub(v, 2))
      n = n + 1
    end
  end
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
redis.call('DEL', KEYS[3])
return n
`;

// Which of the given ids are already written (1) or not (0).
const ARE_WRITTEN_LUA = `
local out = {}
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  out[i] = (v and string.sub(v, 1, 1) == '+') and 1 or 0
end
return out
`;

// Workers hand over items' lines: each is marked delivered and appended to the results stream in one
// step. A second delivery (a job that ran twice) is dropped here, so the stream holds one line per item.
const DELIVER_LUA = `
local out = {}
for i = 1, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  local mark = v and string.sub(v, 1, 1) or ''
  if mark == '+' or mark == '=' then
    out[#out + 1] = 0
  else
    redis.call('HSET', KEYS[1], ARGV[i], '=' .. (v and string.sub(v, 2) or ''))
    redis.call('XADD', KEYS[2], '*', 'id', ARGV[i], 'line', ARGV[i + 1])
    out[#out + 1] = 1
  end
end
return out
`;

interface LedgerCommands {
  respoolDeliver(ledger: string, results: string, ...idLinePairs: string[]): Promise<number[]>;
  respoolClaim(ledger: string, ...args: string[]): Promise<string[]>;
  respoolMarkWritten(ledger: string, written: string, writing: string, ...ids: string[]): Promise<number>;
  respoolAreWritten(ledger: string, ...ids: string[]): Promise<number[]>;
}

function commands(redis: Redis): LedgerCommands {
  return luaCommands<LedgerCommands>(redis, {
    respoolClaim: { keys: 1, lua: CLAIM_LUA },
    respoolDeliver: { keys: 2, lua: DELIVER_LUA },
    respoolMarkWritten: { keys: 3, lua: MARK_WRITTEN_LUA },
    respoolAreWritten: { keys: 1, lua: ARE_WRITTEN_LUA },
  });
}

export async function claim(redis: Redis, keys: RunKeys, entries: Array<{ id: string; source: string }>): Promise<Claim[]> {
  if (entries.length === 0) return [];
  const raw = await commands(redis).respoolClaim(keys.ledger, ...entries.flatMap((e) => [e.id, e.source]));
  return raw.map((r) => (r.startsWith('dup:') ? { state: 'duplicate', firstSource: r.slice(4) } : { state: r as ClaimState }));
}

export async function markWritten(redis: Redis, keys: RunKeys, ids: string[]): Promise<number> {
  if (ids.length === 0) {
    await redis.del(keys.writing);
    return 0;
  }
  return commands(redis).respoolMarkWritten(keys.ledger, keys.written, keys.writing, ...ids);
}

/** For each line: false when the item's line had already been delivered (its job ran twice). */
export async function deliver(redis: Redis, keys: RunKeys, lines: Array<{ id: string; line: string }>): Promise<boolean[]> {
  if (lines.length === 0) return [];
  const raw = await commands(redis).respoolDeliver(keys.ledger, keys.results, ...lines.flatMap((l) => [l.id, l.line]));
  return raw.map((v) => v === 1);
}

/** For each id: true once its line is delivered or written (running it again would pay twice). */
export async function areDone(redis: Redis, keys: RunKeys, ids: string[]): Promise<boolean[]> {
  if (ids.length === 0) return [];
  const values = await redis.hmget(keys.ledger, ...ids);
  return values.map((v) => v !== null && (v.startsWith('=') || v.startsWith('+')));
}

export async function areWritten(redis: Redis, keys: RunKeys, ids: string[]): Promise<boolean[]> {
  if (ids.length === 0) return [];
  const raw = await commands(redis).respoolAreWritten(keys.ledger, ...ids);
  return raw.map((v) => v === 1);
}

export async function ledgerCounts(redis: Redis, keys: RunKeys): Promise<{ items: number; written: number }> {
  const [items, written] = await Promise.all([redis.hlen(keys.ledger), redis.get(keys.written)]);
  return { items, written: Number(written ?? 0) };
}
