/**
 * One dated run of a job: what a schedule fires every night, and what `respool run` does for a job
 * with `incremental: true`. The run is named `<job>-<date>`, writes to `out` with `{date}` filled in,
 * leaves out items an earlier run wrote (when incremental), and ends with a summary line in the log
 * and the optional `on_complete` POST.
 *
 * The process that calls this is the run's collector: it enqueues, writes the results file under
 * the run's collector lock, and records the incremental state. Workers anywhere may help with the
 * API calls (they find the run in Redis like any other).
 */
import type { JobConfig } from '../config/schema.js';
import { IncrementalState } from '../queue/incremental.js';
import { buildSummary, formatSummary, type RunSummary } from '../report/dated-run-summary.js';
import { runPipeline, type PipelineOptions, type PipelineResult } from '../pipeline/run.js';
import type { PipelineContext } from '../pipeline/context.js';
import { datedOut, datedRunName } from './dates.js';
import { postSummary } from './webhook.js';

export interface DatedRunOptions extends Pick<PipelineOptions, 'signal' | 'progress' | 'workers' | 'onWritten' | 'onStarted'> {
  /** The run's date, `YYYY-MM-DD`. */
  date: string;
  /** Name of the schedule or job whose incremental state the run uses; default the job's name. */
  job?: string;
}

/** The job's settings as this dated run uses them. Pure. */
export function datedConfig(config: JobConfig, date: string): JobConfig {
  return { ...config, name: datedRunName(config.name, date), out: datedOut(config.out, date) };
}

/** A dated run's summary (what the log and `on_complete` get), and what its pipeline returned. */
export interface DatedRunResult {
  summary: RunSummary;
  pipeline: PipelineResult;
}

export async function runDated(ctx: PipelineContext, base: JobConfig, opts: DatedRunOptions): Promise<DatedRunResult> {
  const job = opts.job ?? base.name;
  const config = datedConfig(base, opts.date);
  const startedAt = new Date().toISOString();
  const incremental = config.incremental ? new IncrementalState(ctx.redis, job, config.name, ctx.prefix) : undefined;
  ctx.log.info(`run ${config.name}: job ${job}${incremental ? ', incremental' : ''}, writing ${config.out}`);
  const result = await runPipeline(ctx, config, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.workers ? { workers: opts.workers } : {}),
    ...(opts.onWritten ? { onWritten: opts.onWritten } : {}),
    ...(opts.onStarted ? { onStarted: opts.onStarted } : {}),
    ...(incremental ? { incremental } : {}),
  });
  const summary = buildSummary(result.totals, {
    job,
    run: config.name,
    date: opts.date,
    out: result.out,
    outcome: result.outcome,
    skipped_unchanged: incremental?.skipped ?? 0,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
  });
  ctx.log.info(formatSummary(summary));
  // An interrupted run is not over: the POST comes when it is resumed and ends.
  if (config.on_complete && summary.outcome !== 'interrupted') await postSummary(config.on_complete, summary, ctx.log);
  return { summary, pipeline: result };
}
