import type { Redis } from 'ioredis';
import type { RunKeys } from './keys.js';

/**
 * The run's ledger: one hash field per item (job id -> short source text), prefixed with "+" once the
 * item's line is in the results file. It is what makes enqueueing idempotent across crashes and
 * restarts, finds duplicate custom_ids, and tells when a run is complete (written == items).
 */

export type ClaimState = 'new' | 'pending' | 'written' | 'duplicate';

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
  if redis.call('HSETNX', KEYS[1], id, src) == 1 then
    out[#out + 1] = 'new'
  else
    local v = redis.call('HGET', KEYS[1], id)
    local written = string.sub(v, 1, 1) == '+'
    local stored = written and string.sub(v, 2) or v
    if stored ~= src then
      out[#out + 1] = 'dup:' .. stored
    elseif written then
      out[#out + 1] = 'written'
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
  elseif string.sub(v, 1, 1) ~= '+' then
    redis.call('HSET', KEYS[1], ARGV[i], '+' .. v)
    n = n + 1
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

interface LedgerCommands {
  respoolClaim(ledger: string, ...args: string[]): Promise<string[]>;
  respoolMarkWritten(ledger: string, written: string, writing: string, ...ids: string[]): Promise<number>;
  respoolAreWritten(ledger: string, ...ids: string[]): Promise<number[]>;
}

function commands(redis: Redis): LedgerCommands {
  const r = redis as Redis & Partial<LedgerCommands>;
  if (!r.respoolClaim) {
    redis.defineCommand('respoolClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    redis.defineCommand('respoolMarkWritten', { numberOfKeys: 3, lua: MARK_WRITTEN_LUA });
    redis.defineCommand('respoolAreWritten', { numberOfKeys: 1, lua: ARE_WRITTEN_LUA });
  }
  return r as Redis & LedgerCommands;
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

export async function areWritten(redis: Redis, keys: RunKeys, ids: string[]): Promise<boolean[]> {
  if (ids.length === 0) return [];
  const raw = await commands(redis).respoolAreWritten(keys.ledger, ...ids);
  return raw.map((v) => v === 1);
}

export async function ledgerCounts(redis: Redis, keys: RunKeys): Promise<{ items: number; written: number }> {
  const [items, written] = await Promise.all([redis.hlen(keys.ledger), redis.get(keys.written)]);
  return { items, written: Number(written ?? 0) };
}
