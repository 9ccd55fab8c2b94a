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
// eslint-disable-next-line no-restricted-imports -- moved by the pipeline work (src/pipeline); import-cycle-allowed until then
import { runPipeline, type PipelineOptions } from '../cli/commands/run.js';
// eslint-disable-next-line no-restricted-imports -- moved by the pipeline work (src/pipeline)
import type { Session } from '../cli/session.js';
import { datedOut, datedRunName } from './dates.js';
import { postSummary } from './webhook.js';

export interface DatedRunOptions extends Pick<PipelineOptions, 'signal' | 'progress' | 'workers'> {
  /** The run's date, `YYYY-MM-DD`. */
  date: string;
  /** Name of the schedule or job whose incremental state the run uses; default the job's name. */
  job?: string;
}

/** The job's settings as this dated run uses them. Pure. */
export function datedConfig(config: JobConfig, date: string): JobConfig {
  return { ...config, name: datedRunName(config.name, date), out: datedOut(config.out, date) };
}

export async function runDated(session: Session, base: JobConfig, opts: DatedRunOptions): Promise<RunSummary> {
  const job = opts.job ?? base.name;
  const config = datedConfig(base, opts.date);
  const startedAt = new Date().toISOString();
  const incremental = config.incremental ? new IncrementalState(session.redis, job, config.name, session.prefix) : undefined;
  session.log.info(`run ${config.name}: job ${job}${incremental ? ', incremental' : ''}, writing ${config.out}`);
  const result = await runPipeline(session, config, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.workers ? { workers: opts.workers } : {}),
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
  session.log.info(formatSummary(summary));
  // An interrupted run is not over: the POST comes when it is resumed and ends.
  if (config.on_complete && summary.outcome !== 'interrupted') await postSummary(config.on_complete, summary, session.log);
  return summary;
}
