import path from 'node:path';
import { Queue } from '../core/cjs-deps.js';
import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import { createRedis, resolveRedis, type RedisTarget } from '../queue/connection.js';
import { redactRedisUrl, redisPassword, warnIfEvicting } from '../queue/redis-security.js';
import { bullPrefix } from '../queue/keys.js';
import { createLogger, type Logger } from './logger.js';

export interface GlobalFlags {
  logLevel?: string;
  logJson?: boolean;
  prefix?: string;
}

/**
 * What every command needs: a logger that cannot print the API key, a Redis connection (REDIS_URL,
 * local, or embedded), and a way to close everything in the right order.
 */
export class Session {
  readonly queues = new Map<string, Queue<JobData>>();
  private readonly extra: Redis[] = [];
  private constructor(
    readonly log: Logger,
    readonly target: RedisTarget,
    readonly redis: Redis,
    readonly prefix: string | undefined,
  ) {}

  static async open(flags: GlobalFlags): Promise<Session> {
    const apiKey = process.env.OPENRESPONSES_API_KEY;
    // The Redis password is hidden like the key, should any message ever carry it.
    const secrets = [apiKey, redisPassword(process.env.REDIS_URL)].filter((s): s is string => Boolean(s));
    const log = createLogger({ level: flags.logLevel, json: flags.logJson, secrets });
    const target = await resolveRedis({ env: process.env, stateDir: path.resolve(process.env.RESPOOL_STATE_DIR ?? '.respool'), log });
    const redis = createRedis(target.url);
    watchConnection(redis, log, 'Redis');
    log.debug(`Redis: ${redactRedisUrl(target.url)} (${target.origin})`);
    await warnIfEvicting(redis, log);
    return new Session(log, target, redis, flags.prefix);
  }

  /**
   * A connection of its own for one part of the process (workers, collector). Sharing one would put
   * every worker's small commands in line behind the collector's and producer's large ones.
   */
  connection(role: string): Redis {
    const conn = createRedis(this.target.url);
    watchConnection(conn, this.log, `Redis (${role})`);
    this.extra.push(conn);
    return conn;
  }

  queue(run: string): Queue<JobData> {
    let q = this.queues.get(run);
    if (!q) {
      q = new Queue<JobData>(run, { connection: this.redis, prefix: bullPrefix(this.prefix) });
      q.on('error', (err) => this.log.warn(`queue ${run}: ${err.message}`));
      this.queues.set(run, q);
    }
    return q;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    for (const conn of [...this.extra, this.redis]) await conn.quit().catch(() => conn.disconnect());
    this.extra.length = 0;
    await this.target.stop();
  }
}

function watchConnection(redis: Redis, log: Logger, label: string): void {
  let lastError = '';
  redis.on('error', (err: Error) => {
    // ioredis reconnects by itself; say so once per distinct error instead of once per retry.
    if (err.message !== lastError) log.warn(`${label}: ${err.message} (reconnecting)`);
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError) log.info(`${label}: connected again`);
    lastError = '';
  });
}
