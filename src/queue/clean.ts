import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { RunStore } from './run-store.js';

/** See `RunStore.clean`: removes everything a run keeps in Redis; the results file stays. */
export async function cleanRun(redis: Redis, queue: Queue, run: string, prefix?: string, opts: { keepCollectorLock?: boolean } = {}): Promise<void> {
  await new RunStore(redis, run, prefix).clean(queue, opts);
}
