import type { RedisOptions } from 'ioredis';
import { Redis } from '../core/cjs-deps.js';
import type { Logger } from '../core/logger.js';
import { ConfigError } from '../config/load.js';
import { useEmbeddedRedis } from './embedded-redis.js';
import { redactRedisUrl, tlsOptionsFor } from './redis-security.js';
import type { RedisTarget } from './redis-target.js';

export type { RedisTarget } from './redis-target.js';

const LOCAL_URL = 'redis://127.0.0.1:6379';

/**
 * REDIS_URL when set; else a Redis on 127.0.0.1:6379 when one answers; else a redis-server (or
 * valkey-server) from PATH started with its data in `stateDir`, AOF on, stopped when respool exits.
 */
export async function resolveRedis(opts: { env: NodeJS.ProcessEnv; stateDir: string; log: Logger }): Promise<RedisTarget> {
  const fromEnv = opts.env.REDIS_URL;
  if (fromEnv) checkRedisUrl(fromEnv, 'REDIS_URL');
  if (opts.env.RESPOOL_LOCAL_REDIS_URL) checkRedisUrl(opts.env.RESPOOL_LOCAL_REDIS_URL, 'RESPOOL_LOCAL_REDIS_URL');
  if (fromEnv) return { url: fromEnv, origin: 'REDIS_URL', stop: async () => {} };
  // RESPOOL_LOCAL_REDIS_URL: where to look for a local Redis before starting one (tests point it nowhere).
  const local = opts.env.RESPOOL_LOCAL_REDIS_URL || LOCAL_URL;
  if (await answersPing(local)) return { url: local, origin: 'local', stop: async () => {} };
  return useEmbeddedRedis(opts.stateDir, opts.log, answersPing);
}

/**
 * A `redis://` or `rediss://` URL that ioredis would take apart wrongly is a bad setting: a database
 * that is not a number becomes `SELECT NaN`, which Redis refuses on every (re)connect. The message
 * shows the URL without its password. Other strings (a socket path) are left to ioredis.
 */
export function checkRedisUrl(url: string, variable: string): void {
  if (!/^rediss?:\/\//i.test(url)) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${variable} is not a valid URL (${redactRedisUrl(url)}); expected redis://[:password@]host[:port][/db]`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) {
    throw new ConfigError(`${variable}: the database "${db}" in ${redactRedisUrl(url)} is not a number; expected redis://[:password@]host[:port][/db], e.g. /0`);
  }
}

export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  // BullMQ workers block on Redis: they need maxRetriesPerRequest null, and it is harmless elsewhere.
  // A rediss:// URL gets TLS, with the CA and client certificate files named in the environment.
  return new Redis(url, { maxRetriesPerRequest: null, ...tlsOptionsFor(url, process.env), ...extra });
}

export async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
