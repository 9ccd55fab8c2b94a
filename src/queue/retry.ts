import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import { jobOptions } from './job-options.js';
import type { RunKeys } from './keys.js';
import { WRITTEN_HELPERS } from './ledger.js';
import { luaCommands } from './lua-commands.js';
import { forgetSharedAnswers } from './dedupe.js';

/** Line statuses `respool retry` can re-queue: the item itself was fine, the call did not work out. */
export const RETRYABLE_STATUSES = ['failed', 'incomplete', 'invalid_output'] as const;
const RETRYABLE = new Set<string>(RETRYABLE_STATUSES);

/**
 * Workers keep the job data of an item whose line is `failed` or `incomplete` (jobs are deleted
 * once their line is delivered), so that `retry` can queue it again without the input files.
 */
export async function saveRetryData(redis: Redis, keys: RunKeys, id: string, data: JobData): Promise<void> {
  await redis.hset(keys.retryData, id, JSON.stringify(data));
}

export function isRetryable(status: string): boolean {
  return RETRYABLE.has(status);
}

// KEYS: ledger, failedLines, retryData. ARGV: (id, status, retryable 1/0) triples. A retryable line's
// status is noted with the item's ledger source (status "\n" source): once written, the ledger keeps
// only a fingerprint of the source, and a retried item must be claimed again under the same one.
const NOTE_LUA = `
for i = 1, #ARGV, 3 do
  local id = ARGV[i]
  if ARGV[i + 2] == '1' then
    local v = redis.call('HGET', KEYS[1], id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 1] .. '\\n' .. (v and string.sub(v, 2) or ''))
  else
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return 1
`;

// KEYS: ledger, written, failedLines, retryData, retrying, superseded, lineCounts.
// ARGV: wanted statuses joined by ",", then job ids. For each written item whose line has a wanted
// status and whose data was saved: the item goes back in flight as "claimed" under its old source (so
// the run is not complete until its new line is written, and workers may deliver again), the written
// count and the status count go down, the item is noted as superseded (its old line is to leave the
// file), and its data moves to `retrying` until its job is in the queue.
const RETRY_LUA = `${WRITTEN_HELPERS}
local wanted = {}
for s in string.gmatch(ARGV[1], '[^,]+') do wanted[s] = true end
local requeued, missing = 0, 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local rec = redis.call('HGET', KEYS[3], id)
  local status, src = rec, ''
  local nl = rec and string.find(rec, '\\n', 1, true)
  if nl then status, src = string.sub(rec, 1, nl - 1), string.sub(rec, nl + 1) end
  if status and wanted[status] and not redis.call('HGET', KEYS[1], id) and writtenfp(id) then
    local data = redis.call('HGET', KEYS[4], id)
    if data then
      redis.call('HDEL', wkey(id), wfield(id))
      redis.call('HSET', KEYS[1], id, '-' .. src)
      redis.call('DECR', KEYS[2])
      redis.call('HINCRBY', KEYS[7], status, -1)
      redis.call('HINCRBY', KEYS[6], id, 1)
      redis.call('HSET', KEYS[5], id, data)
      redis.call('HDEL', KEYS[4], id)
      redis.call('HDEL', KEYS[3], id)
      requeued = requeued + 1
    else
      missing = missing + 1
    end
  end
end
return {requeued, missing}
`;

/**
 * The collector notes, before it writes a batch, which items' lines in the file can be retried (and
 * drops the saved data of the others). Done before the write, so a crash can only repeat it.
 */
export async function noteLineStatuses(redis: Redis, keys: RunKeys, lines: Array<{ id: string; status: string }>): Promise<void> {
  if (lines.length === 0) return;
  await commands(redis).respoolNoteLines(keys.ledger, keys.failedLines, keys.retryData, ...lines.flatMap((l) => [l.id, l.status, isRetryable(l.status) ? '1' : '0']));
}

interface RetryCommands {
  respoolNoteLines(ledger: string, failedLines: string, retryData: string, ...args: string[]): Promise<number>;
  respoolRetry(ledger: string, written: string, failedLines: string, retryData: string, retrying: string, superseded: string, lineCounts: string, ...args: string[]): Promise<[number, number]>;
}

function commands(redis: Redis): RetryCommands {
  return luaCommands<RetryCommands>(redis, { respoolNoteLines: { keys: 3, lua: NOTE_LUA }, respoolRetry: { keys: 7, lua: RETRY_LUA } });
}

export interface RetryResult {
  /** Items put back in the queue. */
  requeued: number;
  /** Lines with a wanted status whose item data was not kept (written before respool kept it). */
  missing: number;
}

/**
 * Re-queues the items whose line in the results file has one of `statuses`. Their old lines stay in
 * the file until their new lines are written; then the collector rewrites the file without them.
 * Safe to repeat after a crash: an item moved to `retrying` but not yet queued is queued by the next call.
 */
export async function retryItems(redis: Redis, queue: Queue<JobData>, keys: RunKeys, statuses: string[], attempts: number): Promise<RetryResult> {
  const cmd = commands(redis);
  const result: RetryResult = { requeued: 0, missing: 0 };
  const wanted = statuses.join(',');
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.failedLines, cursor, 'COUNT', 500);
    cursor = next;
    const ids = flat.filter((_, i) => i % 2 === 0);
    if (ids.length === 0) continue;
    const [requeued, missing] = await cmd.respoolRetry(keys.ledger, keys.written, keys.failedLines, keys.retryData, keys.retrying, keys.superseded, keys.lineCounts, wanted, ...ids);
    result.requeued += requeued;
    result.missing += missing;
  } while (cursor !== '0');
  // Retried items ask again, once per request key, instead of copying the answer being retried.
  await forgetSharedAnswers(redis, keys, statuses);
  await queueRetrying(redis, queue, keys, attempts);
  return result;
}

/** Adds a job for every item in `retrying`, then forgets it there. */
async function queueRetrying(redis: Redis, queue: Queue<JobData>, keys: RunKeys, attempts: number): Promise<void> {
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.retrying, cursor, 'COUNT', 500);
    cursor = next;
    const entries: Array<{ id: string; data: JobData }> = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i]!, data: JSON.parse(flat[i + 1]!) as JobData });
    if (entries.length === 0) continue;
    // A job BullMQ gave up on stays in its failed set until the collector removes it; an id that still
    // exists would make the add a no-op, so such leftovers go first.
    await Promise.all(
      entries.map(async ({ id }) => {
        const state = await queue.getJobState(id);
        if (state === 'failed' || state === 'completed') await queue.remove(id);
      }),
    );
    await queue.addBulk(entries.map(({ id, data }) => ({ name: data.type, data, opts: jobOptions(id, attempts) })));
    await redis.hdel(keys.retrying, ...entries.map((e) => e.id));
  } while (cursor !== '0');
}
