import { Redis } from 'ioredis';
import { REDIS_URL } from './cli.js';

/**
 * Every key under a test's prefix, and a way to delete them: the one cleaner tests use on the shared
 * Redis (never FLUSHDB). Each takes the test's own connection, or opens one to REDIS_URL for the call.
 */

/** All keys under `prefix:` (a full SCAN, not its first page). */
export async function keysUnder(prefix: string, redis?: Redis): Promise<string[]> {
  return withConnection(redis, async (r) => {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
    return out;
  });
}

/** Every key under a prefix with its value rendered as text (for leak checks). */
export async function dumpPrefix(prefix: string, redis?: Redis): Promise<Map<string, string>> {
  return withConnection(redis, async (r) => {
    const out = new Map<string, string>();
    for (const key of await keysUnder(prefix, r)) out.set(key, JSON.stringify(await valueOf(r, key)));
    return out;
  });
}

/** Deletes every key under `prefix:`. */
export async function deletePrefix(prefix: string, redis?: Redis): Promise<void> {
  await withConnection(redis, async (r) => {
    const keys = await keysUnder(prefix, r);
    for (let i = 0; i < keys.length; i += 1000) await r.del(...keys.slice(i, i + 1000));
  });
}

async function valueOf(redis: Redis, key: string): Promise<unknown> {
  switch (await redis.type(key)) {
    case 'string':
      return redis.get(key);
    case 'hash':
      return redis.hgetall(key);
    case 'list':
      return redis.lrange(key, 0, -1);
    case 'set':
      return redis.smembers(key);
    case 'zset':
      return redis.zrange(key, 0, -1, 'WITHSCORES');
    case 'stream':
      return redis.xrange(key, '-', '+');
    default:
      return undefined;
  }
}

async function withConnection<T>(redis: Redis | undefined, use: (r: Redis) => Promise<T>): Promise<T> {
  if (redis) return use(redis);
  const own = new Redis(REDIS_URL);
  try {
    return await use(own);
  } finally {
    own.disconnect();
  }
}
