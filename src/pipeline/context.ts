import path from 'node:path';
import type { Redis } from 'ioredis';
import { Queue } from '../core/cjs-deps.js';
import type { JobData } from '../core/item.js';
import { redactingLogger, silentLogger, type Logger } from '../core/logger.js';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import { createRedis, resolveRedis, type RedisTarget } from '../queue/connection.js';
import { redactRedisUrl, redisPassword, warnIfEvicting, type RedisTls } from '../queue/redis-security.js';
import { bullPrefix } from '../queue/keys.js';

/** Where the pipeline finds Redis, the API key and its files. Nothing here is read from `process.env`. */
export interface ContextOptions {
  /**
   * Redis URL (`redis://[:password@]host[:port][/db]`, `rediss://` for TLS).
   * @default a Redis answering on `localRedisUrl`, else a `redis-server` started with its data in `<stateDir>/redis`
   */
  redisUrl?: string;
  /**
   * Where to look for a local Redis when no `redisUrl` is given.
   * @default 'redis://127.0.0.1:6379'
   */
  localRedisUrl?: string;
  /**
   * PEM contents for a `rediss://` Redis: a private CA, a client certificate and its key.
   * @default Node's CA list, no client certificate
   */
  redisTls?: RedisTls;
  /** Bearer token for the API; never logged, stored in Redis or written to a file. */
  apiKey?: string;
  /** @default a logger that drops everything */
  log?: Logger;
  /**
   * Redis key prefix: installations with different prefixes share a Redis without seeing each other.
   * @default 'respool'
   */
  prefix?: string;
  /**
   * Folder that relative paths (inputs, out, prices) are resolved against.
   * @default process.cwd()
   */
  cwd?: string;
  /**
   * Folder of the embedded Redis's data, when respool has to start one.
   * @default '<cwd>/.respool'
   */
  stateDir?: string;
  /**
   * How long a worker's job lock lasts, and how often stalled jobs are looked for (ms).
   * @default QUEUE_DEFAULTS.lockDurationMs, QUEUE_DEFAULTS.stalledIntervalMs
   */
  timing?: { lockDurationMs: number; stalledIntervalMs: number };
}

/**
 * What every part of the pipeline needs: a logger that cannot print the API key, a Redis connection,
 * the run queues, and a way to close everything in the right order. One per `openRespool` (and per
 * command of the command line).
 */
export class PipelineContext {
  private readonly queues = new Map<string, Queue<JobData>>();
  private readonly extra: Redis[] = [];

  private constructor(
    readonly log: Logger,
    readonly target: RedisTarget,
    readonly redis: Redis,
    readonly prefix: string | undefined,
    readonly apiKey: string | undefined,
    readonly cwd: string,
    readonly timing: { lockDurationMs: number; stalledIntervalMs: number },
    private readonly tls: RedisTls,
  ) {}

  static async open(opts: ContextOptions = {}): Promise<PipelineContext> {
    const cwd = path.resolve(opts.cwd ?? process.cwd());
    // The Redis password is hidden like the key, should any message ever carry it.
    const log = redactingLogger(opts.log ?? silentLogger, [opts.apiKey, redisPassword(opts.redisUrl) ?? undefined]);
    const target = await resolveRedis({
      ...(opts.redisUrl ? { url: opts.redisUrl } : {}),
      ...(opts.localRedisUrl ? { localUrl: opts.localRedisUrl } : {}),
      stateDir: path.resolve(cwd, opts.stateDir ?? '.respool'),
      log,
    });
    const tls = opts.redisTls ?? {};
    const redis = createRedis(target.url, {}, tls);
    watchConnection(redis, log, 'Redis');
    try {
      log.debug(`Redis: ${redactRedisUrl(target.url)} (${target.origin})`);
      await warnIfEvicting(redis, log);
    } catch (err) {
      redis.disconnect();
      await target.stop();
      throw err;
    }
    const timing = opts.timing ?? { lockDurationMs: QUEUE_DEFAULTS.lockDurationMs, stalledIntervalMs: QUEUE_DEFAULTS.stalledIntervalMs };
    return new PipelineContext(log, target, redis, opts.prefix, opts.apiKey, cwd, timing, tls);
  }

  /**
   * A connection of its own for one part of the process (workers, collector). Sharing one would put
   * every worker's small commands in line behind the collector's and producer's large ones.
   */
  connection(role: string): Redis {
    const conn = createRedis(this.target.url, {}, this.tls);
    watchConnection(conn, this.log, `Redis (${role})`);
    this.extra.push(conn);
    return conn;
  }

  /** Hands back a connection from `connection()` that is no longer needed, closing it. */
  async release(conn: Redis): Promise<void> {
    const at = this.extra.indexOf(conn);
    if (at >= 0) this.extra.splice(at, 1);
    await conn.quit().catch(() => conn.disconnect());
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

  /** A path of the user's (relative to `cwd`) as an absolute path. */
  resolve(p: string): string {
    return path.resolve(this.cwd, p);
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
