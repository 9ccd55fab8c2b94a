import type { Redis } from 'ioredis';
import type { Logger } from '../cli/logger.js';

/**
 * Redis set to evict keys under memory pressure may drop queued jobs, result lines or the ledger,
 * and with them items or their exactly-once marks. respool says so at start; it cannot fix it (the
 * setting belongs to whoever runs Redis, and managed services often refuse CONFIG).
 */
export async function warnIfEvicting(redis: Redis, log: Logger): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      log.warn(`Redis maxmemory-policy is "${policy}": under memory pressure Redis may delete queued items and their exactly-once marks; set it to "noeviction"`);
    }
  } catch (err) {
    log.debug(`could not read Redis maxmemory-policy: ${(err as Error).message}`);
  }
}
