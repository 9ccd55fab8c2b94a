/**
 * One run of a schedule at a time, over every worker process. Two runs of one incremental job at
 * once would both send the items the first has not written yet (paying twice), and two firings of
 * the same day would fight over one results file. A firing that finds the lock held is skipped; a
 * lock whose holder died expires, and BullMQ's retry of the dead worker's job resumes that run.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { scheduleLockKey } from '../queue/keys.js';
import { releaseLock, renewLock, tryLock } from '../queue/token-lock.js';

const TTL_MS = 30_000;

export interface ScheduleLock {
  release(): Promise<void>;
}

/** The lock, or null when another run of the schedule holds it. */
export async function acquireScheduleLock(redis: Redis, schedule: string, prefix?: string): Promise<ScheduleLock | null> {
  const key = scheduleLockKey(schedule, prefix);
  const token = `${os.hostname()}:${process.pid}:${randomUUID()}`;
  if (!(await tryLock(redis, key, token, TTL_MS))) return null;
  const timer = setInterval(() => {
    renewLock(redis, key, token, TTL_MS).catch(() => {});
  }, TTL_MS / 3);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await releaseLock(redis, key, token);
    },
  };
}
