/** The part of `respool worker` that starts scheduled runs (see ./scheduler.ts). */
import type { Worker } from 'bullmq';
import type { PipelineContext } from '../pipeline/context.js';
import type { WorkerSet } from '../worker/worker-set.js';
import { runDated } from './dated-run.js';
import { acquireScheduleLock } from './schedule-lock.js';
import { configOf, runDateOf, scheduleWorker, type ScheduleData } from './scheduler.js';

export function startScheduledRuns(ctx: PipelineContext, workers: WorkerSet, signal: AbortSignal): Worker<ScheduleData, void> {
  const worker = scheduleWorker(ctx.connection('schedules'), ctx.prefix, ctx.timing, async (job) => {
    const config = configOf(job.data);
    const date = runDateOf(job);
    const lock = await acquireScheduleLock(ctx.redis, job.data.schedule, ctx.prefix);
    if (!lock) {
      ctx.log.warn(`schedule ${job.data.schedule} fired for ${date}, but its previous run is still going; this firing is skipped`);
      return;
    }
    let summary;
    try {
      ctx.log.info(`schedule ${job.data.schedule} fired: run ${config.name}-${date}`);
      summary = (await runDated(ctx, config, { date, job: job.data.schedule, workers, signal })).summary;
    } finally {
      await lock.release();
    }
    // Thrown so that BullMQ hands the job to another worker (after its backoff), which resumes the run.
    if (summary.outcome === 'interrupted') throw new Error(`run ${summary.run} interrupted; it resumes on the next attempt`);
    if (summary.outcome === 'stopped') ctx.log.error(`run ${summary.run} stopped: the API refused the key`);
  });
  worker.on('error', (err) => ctx.log.warn(`scheduler: ${err.message}`));
  worker.on('failed', (job, err) => ctx.log.warn(`scheduled run of ${job?.data.schedule ?? '?'}: ${err.message}`));
  return worker;
}
