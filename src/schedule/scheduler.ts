/**
 * Schedules live in one BullMQ queue per installation (per `--prefix`), as BullMQ job schedulers
 * (`upsertJobScheduler`). Each holds the job's validated settings; when it fires, BullMQ hands its
 * job to one `respool worker` process, which runs the dated run (./dated-run.ts) and is its collector.
 * A worker that dies mid-run loses the job's lock; BullMQ gives the job to another worker, which
 * resumes the same dated run (same name, same ledger) without duplicates.
 */
import path from 'node:path';
import type { Job } from 'bullmq';
import { Queue, Worker } from '../core/cjs-deps.js';
import type { Redis } from 'ioredis';
import { NIGHTLY_DEFAULTS } from '../config/defaults.js';
import { jobConfigSchema, type JobConfig } from '../config/schema.js';
import { bullPrefix } from '../queue/keys.js';
import { dateIn } from './dates.js';

/** Not a valid run name (runs start with a letter or digit), so it never collides with a run's queue. */
export const SCHEDULER_QUEUE = '_schedules';
const JOB_NAME = 'scheduled-run';

export interface ScheduleData {
  schedule: string;
  tz: string;
  /** The job's settings, with absolute paths: the worker may run in another folder. */
  config: JobConfig;
}

export type Repeat = { pattern: string; tz: string } | { every: number; tz: string };

export interface ScheduleInfo {
  /** The job's name; its runs are `<name>-<date>`. */
  name: string;
  /** The cron pattern, or null for an `every` schedule. */
  pattern: string | null;
  /** Milliseconds between firings, or null for a cron schedule. */
  every: number | null;
  /** Time zone of the pattern and of `{date}`. */
  tz: string;
  /** When it fires next (ISO 8601), when known. */
  next: string | null;
  /** The results file pattern (absolute), `{date}` left in. */
  out: string | null;
}

export function schedulerQueue(redis: Redis, prefix?: string): Queue<ScheduleData> {
  return new Queue<ScheduleData>(SCHEDULER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
}

/** Paths made absolute against `cwd`, so the stored settings mean the same files from any folder. */
export function absoluteConfig(config: JobConfig, cwd: string): JobConfig {
  return { ...config, inputs: config.inputs.map((i) => path.resolve(cwd, i)), out: path.resolve(cwd, config.out) };
}

export async function upsertSchedule(queue: Queue<ScheduleData>, config: JobConfig, repeat: Repeat): Promise<void> {
  const data: ScheduleData = { schedule: config.name, tz: repeat.tz, config };
  await queue.upsertJobScheduler(config.name, repeat, {
    name: JOB_NAME,
    data,
    opts: { attempts: NIGHTLY_DEFAULTS.scheduledJobAttempts, backoff: { type: 'fixed', delay: 30_000 }, removeOnComplete: 100, removeOnFail: 100 },
  });
}

export async function listSchedules(queue: Queue<ScheduleData>): Promise<ScheduleInfo[]> {
  const all = await queue.getJobSchedulers(0, -1, true);
  return all.map((s) => ({
    name: s.key,
    pattern: s.pattern ?? null,
    every: s.every ?? null,
    tz: s.tz ?? (s.template?.data as ScheduleData | undefined)?.tz ?? NIGHTLY_DEFAULTS.tz,
    next: typeof s.next === 'number' ? new Date(s.next).toISOString() : null,
    out: (s.template?.data as ScheduleData | undefined)?.config.out ?? null,
  }));
}

export function removeSchedule(queue: Queue<ScheduleData>, name: string): Promise<boolean> {
  return queue.removeJobScheduler(name);
}

/** When the job was due (not when a worker got to it): a run picked up late keeps its date. */
export function dueAt(job: Job<ScheduleData>): number {
  const prev = (job.opts as { prevMillis?: unknown }).prevMillis;
  if (typeof prev === 'number' && prev > 0) return prev;
  return job.timestamp + (job.delay ?? 0);
}

/** The date of a fired schedule's run, in its time zone. */
export function runDateOf(job: Job<ScheduleData>): string {
  return dateIn(dueAt(job), job.data.tz);
}

/** Settings stored by an older or foreign writer are checked again before use. */
export function configOf(data: ScheduleData): JobConfig {
  return jobConfigSchema.parse(data.config);
}

/**
 * The worker of the scheduler queue in one `respool worker` process. `run` does the dated run; the
 * job's lock is renewed by BullMQ while it works, for as long as the run takes.
 */
export function scheduleWorker(
  redis: Redis,
  prefix: string | undefined,
  timing: { lockDurationMs: number; stalledIntervalMs: number },
  run: (job: Job<ScheduleData>) => Promise<void>,
): Worker<ScheduleData, void> {
  return new Worker<ScheduleData, void>(SCHEDULER_QUEUE, run, {
    connection: redis,
    prefix: bullPrefix(prefix),
    // Several schedules may fire at once; each is one collector plus whatever workers help.
    concurrency: 4,
    lockDuration: timing.lockDurationMs,
    stalledInterval: timing.stalledIntervalMs,
  });
}
