import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { JobData } from '../core/item.js';
import { queueTiming } from '../config/defaults.js';
import type { RedisTarget } from '../queue/connection.js';
import { redisPassword } from '../queue/redis-security.js';
import { PipelineContext } from '../pipeline/context.js';
import { createLogger, type CliLogger } from './logger.js';

export interface GlobalFlags {
  logLevel?: string;
  logJson?: boolean;
  prefix?: string;
}

/**
 * A command's pipeline context, opened from its flags and the environment (the one place that reads
 * OPENRESPONSES_API_KEY, REDIS_URL, RESPOOL_LOCAL_REDIS_URL, RESPOOL_STATE_DIR and the queue timing
 * variables), with the command line's logger, which cannot print the API key either.
 */
export class Session {
  private constructor(
    readonly context: PipelineContext,
    readonly log: CliLogger,
  ) {}

  static async open(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Promise<Session> {
    const apiKey = env.OPENRESPONSES_API_KEY;
    const log = createLogger({ level: flags.logLevel, json: flags.logJson, secrets: [apiKey, redisPassword(env.REDIS_URL)].filter((s): s is string => Boolean(s)) });
    const context = await PipelineContext.open({
      log,
      prefix: flags.prefix,
      timing: queueTiming(env),
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
