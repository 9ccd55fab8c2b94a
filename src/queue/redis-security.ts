import { readFileSync } from 'node:fs';
import type { Redis, RedisOptions } from 'ioredis';
import { ConfigError } from '../config/load.js';
import type { Logger } from '../core/logger.js';

/**
 * TLS settings for a `rediss://` URL. Node's default CA list is used unless RESPOOL_REDIS_CA names a
 * PEM file (a private CA); RESPOOL_REDIS_CERT and RESPOOL_REDIS_KEY give a client certificate for a
 * server that asks for one. Read once per process: every connection of a process uses the same files.
 */
export function tlsOptionsFor(url: string, env: NodeJS.ProcessEnv): RedisOptions {
  if (!/^rediss:\/\//i.test(url)) return {};
  const key = `${env.RESPOOL_REDIS_CA ?? ''}\0${env.RESPOOL_REDIS_CERT ?? ''}\0${env.RESPOOL_REDIS_KEY ?? ''}`;
  if (cachedTls?.key !== key) {
    const tls: NonNullable<RedisOptions['tls']> = {};
    if (env.RESPOOL_REDIS_CA) tls.ca = readPem('RESPOOL_REDIS_CA', env.RESPOOL_REDIS_CA);
    if (env.RESPOOL_REDIS_CERT) tls.cert = readPem('RESPOOL_REDIS_CERT', env.RESPOOL_REDIS_CERT);
    if (env.RESPOOL_REDIS_KEY) tls.key = readPem('RESPOOL_REDIS_KEY', env.RESPOOL_REDIS_KEY);
    cachedTls = { key, tls };
  }
  return { tls: cachedTls.tls };
}

let cachedTls: { key: string; tls: NonNullable<RedisOptions['tls']> } | null = null;

function readPem(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
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
