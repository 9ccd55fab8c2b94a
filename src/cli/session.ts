import path from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import { createRedis, resolveRedis, type RedisTarget } from '../queue/connection.js';
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
  private constructor(
    readonly log: Logger,
    readonly target: RedisTarget,
    readonly redis: Redis,
    readonly prefix: string | undefined,
  ) {}

  static async open(flags: GlobalFlags): Promise<Session> {
    const apiKey = process.env.OPENRESPONSES_API_KEY;
    const log = createLogger({ level: flags.logLevel, json: flags.logJson, secrets: apiKey ? [apiKey] : [] });
    const target = await resolveRedis({ env: process.env, stateDir: path.resolve(process.env.RESPOOL_STATE_DIR ?? '.respool'), log });
    const redis = createRedis(target.url);
    let lastError = '';
    redis.on('error', (err: Error) => {
      // ioredis retries by itself; say so once per distinct error instead of once per retry.
      if (err.message !== lastError) log.warn(`Redis: ${err.message} (reconnecting)`);
      lastError = err.message;
    });
    redis.on('ready', () => {
      if (lastError) log.info('Redis: connected again');
      lastError = '';
    });
    return new Session(log, target, redis, flags.prefix);
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
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.target.stop();
  }
}
