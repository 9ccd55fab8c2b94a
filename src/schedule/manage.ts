/**
 * Making, listing and removing schedules, and forgetting an incremental job's state: what
 * `respool schedule` and the library's `rp.schedule` / `rp.schedules` / `rp.unschedule` /
 * `rp.resetIncremental` do. `respool worker` processes (or `rp.work({ schedules: true })`) start the runs.
 */
import { NIGHTLY_DEFAULTS } from '../config/defaults.js';
import { ConfigError } from '../config/load.js';
import { MAX_DATED_NAME, type JobConfig } from '../config/schema.js';
import { resetIncremental } from '../queue/incremental.js';
import type { PipelineContext } from '../pipeline/context.js';
import { isTimeZone } from './dates.js';
import { absoluteConfig, listSchedules, removeSchedule, schedulerQueue, upsertSchedule, type Repeat, type ScheduleData, type ScheduleInfo } from './scheduler.js';
import type { Queue } from 'bullmq';

export type { ScheduleInfo } from './scheduler.js';

/** When a schedule fires: exactly one of `cron` and `everyMs`. */
export interface ScheduleOptions {
  /** Cron pattern, e.g. `'0 2 * * *'` (every day at 02:00 in `tz`). */
  cron?: string;
  /** Instead of `cron`: every N milliseconds (for trying a schedule out). */
  everyMs?: number;
  /**
   * IANA time zone of the pattern and of `{date}` in the job's `out`.
   * @default 'UTC'
   */
  tz?: string;
}

/** The schedule's repeat, checked; each message names the option at fault. */
export function repeatOf(opts: ScheduleOptions): Repeat {
  if ((opts.cron === undefined) === (opts.everyMs === undefined)) throw new ConfigError('a schedule needs either cron (a pattern) or everyMs');
  const tz = opts.tz ?? NIGHTLY_DEFAULTS.tz;
  if (!isTimeZone(tz)) throw new ConfigError(`tz: unknown time zone "${tz}" (use an IANA name such as Europe/Berlin)`);
  if (opts.cron !== undefined) return { pattern: opts.cron, tz };
  if (!Number.isInteger(opts.everyMs) || opts.everyMs! <= 0) throw new ConfigError(`everyMs: expected a whole number of milliseconds above 0, got ${String(opts.everyMs)}`);
  return { every: opts.everyMs!, tz };
}

/** Makes (or replaces) the schedule named after the job; returns it as `schedules()` lists it. */
export async function addSchedule(ctx: PipelineContext, job: JobConfig, opts: ScheduleOptions): Promise<ScheduleInfo> {
  const repeat = repeatOf(opts);
  if (job.name.length > MAX_DATED_NAME) throw new ConfigError(`name: at most ${MAX_DATED_NAME} characters for a schedule (its runs add -YYYY-MM-DD)`);
  const config = absoluteConfig(job, ctx.cwd);
  return withQueue(ctx, async (queue) => {
    await upsertSchedule(queue, config, repeat).catch((err: Error) => {
      throw new ConfigError(`cron: ${err.message}`);
    });
    const info = (await listSchedules(queue)).find((s) => s.name === config.name);
    if (!info) throw new Error(`schedule ${config.name} was not stored`);
    if (!config.incremental) ctx.log.warn(`schedule ${config.name}: incremental is not set, so every run sends every item`);
    return info;
  });
}

export function schedules(ctx: PipelineContext): Promise<ScheduleInfo[]> {
  return withQueue(ctx, listSchedules);
}

/** Removes a schedule (its incremental state stays); false when none has that name. */
export function unschedule(ctx: PipelineContext, name: string): Promise<boolean> {
  return withQueue(ctx, (queue) => removeSchedule(queue, name));
}

/** Forgets what an incremental job has done: its next run sends every item again. False when it had no state. */
export async function forgetIncremental(ctx: PipelineContext, name: string): Promise<boolean> {
  return (await resetIncremental(ctx.redis, name, ctx.prefix)) > 0;
}

async function withQueue<T>(ctx: PipelineContext, use: (queue: Queue<ScheduleData>) => Promise<T>): Promise<T> {
  const queue = schedulerQueue(ctx.redis, ctx.prefix);
  try {
    return await use(queue);
  } finally {
    await queue.close();
  }
}
