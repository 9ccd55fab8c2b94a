import type { Redis } from 'ioredis';
import type { RunKeys } from './keys.js';
import { luaCommands } from './lua-commands.js';

/**
 * Who calls for each distinct request of a run, and the answer it got (docs/architecture.md#identical-requests).
 * One hash per run, request key (SHA-256 hex of the canonical request, never the request) ->
 *
 * - `@<job id>`: that item's job is calling for this request;
 * - `=<line>`: its answer, the line it delivered (JSON, before cost), for every identical item.
 *
 * Claims and answers go through Lua, so that any number of workers on any machines agree on one
 * caller per request key. A caller that ends without a usable answer releases the key; a caller whose
 * job no longer exists (its line went elsewhere, its worker died and BullMQ gave up on it, the run was
 * cancelled) is replaced by the next item that claims the key.
 */

export type DedupeClaim =
  /** Nobody answered this request yet: this item calls (it holds the key now). */
  | { action: 'call' }
  /** Another item's job is calling for it: wait, then claim again. */
  | { action: 'wait'; caller: string }
  /** Answered: the line of the item that called. */
  | { action: 'copy'; line: string };

interface DedupeCommands {
  respoolDedupeClaim(hash: string, jobPrefix: string, ...args: string[]): Promise<string[]>;
  respoolDedupeSettle(hash: string, retryable: string, ...args: string[]): Promise<number>;
}

function commands(redis: Redis): DedupeCommands {
  return luaCommands<DedupeCommands>(redis, {
    respoolDedupeClaim: { file: 'dedupeClaim' },
    respoolDedupeSettle: { file: 'dedupeSettle' },
  });
}

export { jobKeyPrefix } from './keys.js';

export async function claimRequests(redis: Redis, keys: RunKeys, jobPrefix: string, claims: Array<{ key: string; id: string }>): Promise<DedupeClaim[]> {
  if (claims.length === 0) return [];
  const raw = await commands(redis).respoolDedupeClaim(keys.dedupe, jobPrefix, ...claims.flatMap((c) => [c.key, c.id]));
  return raw.map((v): DedupeClaim => {
    if (v === '') return { action: 'call' };
    if (v.startsWith('=')) return { action: 'copy', line: v.slice(1) };
    return { action: 'wait', caller: v.slice(1) };
  });
}

export interface DedupeSettle {
  key: string;
  id: string;
  /** The line to share, or null: the call gave nothing to share, the key is released. */
  line: string | null;
  /** The line's status when `retry` may ask again for it (failed, incomplete, invalid_output). */
  retryableStatus: string | null;
}

export async function settleRequests(redis: Redis, keys: RunKeys, settles: DedupeSettle[]): Promise<void> {
  if (settles.length === 0) return;
  await commands(redis).respoolDedupeSettle(keys.dedupe, keys.dedupeRetryable, ...settles.flatMap((s) => [s.key, s.id, s.retryableStatus ?? '', s.line ?? '']));
}

/**
 * Forgets the shared answers whose status `retry` queues again, so that the retried items ask once
 * more (one call per request key again) instead of copying the answer being retried.
 */
export async function forgetSharedAnswers(redis: Redis, keys: RunKeys, statuses: readonly string[]): Promise<number> {
  const wanted = new Set(statuses);
  let forgotten = 0;
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.dedupeRetryable, cursor, 'COUNT', 500);
    cursor = next;
    const requestKeys = flat.filter((v, i) => i % 2 === 0 && wanted.has(flat[i + 1]!));
    if (requestKeys.length === 0) continue;
    await redis.multi().hdel(keys.dedupe, ...requestKeys).hdel(keys.dedupeRetryable, ...requestKeys).exec();
    forgotten += requestKeys.length;
  } while (cursor !== '0');
  return forgotten;
}
