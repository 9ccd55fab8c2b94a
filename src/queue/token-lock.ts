import type { Redis } from 'ioredis';
import { luaCommands } from './lua-commands.js';

/**
 * Locks held under a token (`<host>:<pid>:<uuid>`), taken with SET NX PX: the collector's lock of a
 * run, a schedule's lock. Renewing and releasing check the token first, in one step, so that a holder
 * whose lock expired and was taken by another never extends or deletes the new holder's.
 */

interface LockCommands {
  respoolLockRenew(lock: string, token: string, ttlMs: string): Promise<number>;
  respoolLockRelease(lock: string, token: string): Promise<number>;
}

const LOCK_COMMANDS = {
  respoolLockRenew: { file: 'lockRenew' },
  respoolLockRelease: { file: 'lockRelease' },
} as const;

/** Takes `key` for `ttlMs` if nobody holds it. */
export async function tryLock(redis: Redis, key: string, token: string, ttlMs: number): Promise<boolean> {
  return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
}

/** Extends the lock while `token` holds it; false when it is not (or no longer) this holder's. */
export async function renewLock(redis: Redis, key: string, token: string, ttlMs: number): Promise<boolean> {
  return (await luaCommands<LockCommands>(redis, LOCK_COMMANDS).respoolLockRenew(key, token, String(ttlMs))) === 1;
}

/** Releases the lock if `token` still holds it. */
export async function releaseLock(redis: Redis, key: string, token: string): Promise<void> {
  await luaCommands<LockCommands>(redis, LOCK_COMMANDS).respoolLockRelease(key, token);
}
