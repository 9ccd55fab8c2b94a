import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { JobData } from '../core/item.js';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import { ConfigError } from '../config/load.js';
import { checkRedisUrl, type RedisTarget } from '../queue/connection.js';
import { redisPassword, type RedisTls } from '../queue/redis-security.js';
import { PipelineContext } from '../pipeline/context.js';
import { createLogger, type CliLogger } from './logger.js';

export interface GlobalFlags {
  logLevel?: string;
  logJson?: boolean;
  prefix?: string;
}

/**
 * A command's pipeline context, opened from its flags and the environment (the one place that reads
 * OPENRESPONSES_API_KEY, REDIS_URL, RESPOOL_LOCAL_REDIS_URL, RESPOOL_REDIS_CA/_CERT/_KEY, RESPOOL_STATE_DIR and the queue timing
 * variables), with the command line's logger, which cannot print the API key either.
 */
export class Session {
  private constructor(
    readonly context: PipelineContext,
    readonly log: CliLogger,
  ) {}

  static async open(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Promise<Session> {
    const apiKey = env.OPENRESPONSES_API_KEY;
    // Checked here first so that a bad value is named by its variable.
    if (env.REDIS_URL) checkRedisUrl(env.REDIS_URL, 'REDIS_URL');
    if (env.RESPOOL_LOCAL_REDIS_URL) checkRedisUrl(env.RESPOOL_LOCAL_REDIS_URL, 'RESPOOL_LOCAL_REDIS_URL');
    const redisTls = await redisTlsFrom(env);
    const log = createLogger({ level: flags.logLevel, json: flags.logJson, secrets: [apiKey, redisPassword(env.REDIS_URL)].filter((s): s is string => Boolean(s)) });
    const context = await PipelineContext.open({
      log,
      prefix: flags.prefix,
      timing: queueTiming(env),
      redisTls,
      ...(apiKey ? { apiKey } : {}),
      ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
      ...(env.RESPOOL_LOCAL_REDIS_URL ? { localRedisUrl: env.RESPOOL_LOCAL_REDIS_URL } : {}),
      ...(env.RESPOOL_STATE_DIR ? { stateDir: env.RESPOOL_STATE_DIR } : {}),
    });
    return new Session(context, log);
  }

  get redis(): Redis {
    return this.context.redis;
  }

  get target(): RedisTarget {
    return this.context.target;
  }

  get prefix(): string | undefined {
    return this.context.prefix;
  }

  connection(role: string): Redis {
    return this.context.connection(role);
  }

  queue(run: string): Queue<JobData> {
    return this.context.queue(run);
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

/** The PEM files RESPOOL_REDIS_CA, RESPOOL_REDIS_CERT and RESPOOL_REDIS_KEY name, read for a rediss:// Redis. */
async function redisTlsFrom(env: NodeJS.ProcessEnv): Promise<RedisTls> {
  const tls: RedisTls = {};
  if (env.RESPOOL_REDIS_CA) tls.ca = await readPem('RESPOOL_REDIS_CA', env.RESPOOL_REDIS_CA);
  if (env.RESPOOL_REDIS_CERT) tls.cert = await readPem('RESPOOL_REDIS_CERT', env.RESPOOL_REDIS_CERT);
  if (env.RESPOOL_REDIS_KEY) tls.key = await readPem('RESPOOL_REDIS_KEY', env.RESPOOL_REDIS_KEY);
  return tls;
}

async function readPem(variable: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * Lock and stalled-check timing can be tuned per deployment (RESPOOL_LOCK_DURATION_MS,
 * RESPOOL_STALLED_INTERVAL_MS): shorter means a dead worker's items come back sooner, at the price
 * of more Redis traffic. Invalid values are ignored in favour of the defaults.
 */
function queueTiming(env: NodeJS.ProcessEnv): { lockDurationMs: number; stalledIntervalMs: number } {
  const read = (name: string, fallback: number) => {
    const n = Number(env[name]);
    return Number.isInteger(n) && n >= 100 ? n : fallback;
  };
  return {
    lockDurationMs: read('RESPOOL_LOCK_DURATION_MS', QUEUE_DEFAULTS.lockDurationMs),
    stalledIntervalMs: read('RESPOOL_STALLED_INTERVAL_MS', QUEUE_DEFAULTS.stalledIntervalMs),
  };
}
