import type { RedisOptions } from 'ioredis';
import { Redis } from '../core/cjs-deps.js';
import type { Logger } from '../core/logger.js';
import { ConfigError } from '../config/load.js';
import { useEmbeddedRedis } from './embedded-redis.js';
import { redactRedisUrl, tlsOptionsFor, type RedisTls } from './redis-security.js';
import type { RedisTarget } from './redis-target.js';

export type { RedisTarget } from './redis-target.js';

const LOCAL_URL = 'redis://127.0.0.1:6379';

/** Where to find Redis: the options of `resolveRedis`. */
export interface RedisChoice {
  /** The Redis to use; checked, never replaced by another. */
  url?: string;
  /** Where to look for a local Redis when no `url` is given. @default 'redis://127.0.0.1:6379' */
  localUrl?: string;
  /** Folder of an embedded Redis's data, when none answers locally. */
  stateDir: string;
  log: Logger;
}

/**
 * `url` when given; else a Redis on `localUrl` when one answers; else a redis-server (or
 * valkey-server) from PATH started with its data in `stateDir`, AOF on, stopped by the target's `stop`.
 */
export async function resolveRedis(choice: RedisChoice): Promise<RedisTarget> {
  if (choice.url) {
    checkRedisUrl(choice.url, 'redis');
    return { url: choice.url, origin: 'given', stop: async () => {} };
  }
  const local = choice.localUrl || LOCAL_URL;
  checkRedisUrl(local, 'localRedisUrl');
  if (await answersPing(local)) return { url: local, origin: 'local', stop: async () => {} };
  return useEmbeddedRedis(choice.stateDir, choice.log, answersPing);
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

/** A connection to `url`; a `rediss://` URL gets TLS with the PEM contents of `tls`. */
export function createRedis(url: string, extra: RedisOptions = {}, tls?: RedisTls): Redis {
  // BullMQ workers block on Redis: they need maxRetriesPerRequest null, and it is harmless elsewhere.
  return new Redis(url, { maxRetriesPerRequest: null, ...tlsOptionsFor(url, tls), ...extra });
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
