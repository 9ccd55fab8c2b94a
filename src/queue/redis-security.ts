import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '../core/logger.js';

/**
 * PEM contents for a `rediss://` connection: a private CA, and a client certificate and key for a
 * server that asks for one. Without them Node's default CA list is used and no certificate is sent.
 */
export interface RedisTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** ioredis's TLS options for `url`: none for `redis://`, Node's defaults plus `tls` for `rediss://`. */
export function tlsOptionsFor(url: string, tls: RedisTls = {}): RedisOptions {
  if (!/^rediss:\/\//i.test(url)) return {};
  return { tls: { ...tls } };
}

/** The URL as it may be printed: the password (and a user name's password part) replaced by `***`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL we can parse: print nothing of it rather than risk printing a password.
    return '(unparsable URL)';
  }
}

/** The password in a Redis URL, so that the logger can hide it wherever it turns up. */
export function redisPassword(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : null;
  } catch {
    return null;
  }
}

let evictionChecked = false;

/**
 * Redis evicting keys under memory pressure would silently lose queued jobs, ledger marks and
 * result lines. Warns once per process when `maxmemory-policy` is anything but `noeviction`. Managed
 * Redis services often refuse CONFIG; then there is nothing to check and nothing is said.
 */
export async function warnIfEvicting(redis: Redis, log: Logger): Promise<void> {
  if (evictionChecked) return;
  evictionChecked = true;
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch {
    return;
  }
  if (policy && policy !== 'noeviction') {
    log.warn(
      `Redis maxmemory-policy is "${policy}": under memory pressure Redis may delete queued items, ledger marks and result lines, ` +
        'and items would be lost or written twice. Set "maxmemory-policy noeviction" on this Redis.',
    );
  }
}
