import type { Command } from 'commander';
import type { JobConfig } from '../../config/schema.js';
import { describeRunModel } from '../../inputs/index.js';
import { ledgerCounts } from '../../queue/ledger.js';
import { runKeys } from '../../queue/keys.js';
import { loadRun } from '../../queue/run-meta.js';
import { formatTotals } from '../../report/line-totals.js';
import { RunStateLostError } from '../../sinks/collector.js';
import { runPipeline } from '../../pipeline/run.js';
import { checkInputs } from '../../pipeline/input-check.js';
import { addJobFlags, configFromFlags } from '../job-flags.js';
import { Progress } from '../progress.js';
import { redactRedisUrl } from '../../queue/redis-security.js';
import { Session, type GlobalFlags } from '../session.js';
import { stopOnSignals } from '../signals.js';
import { EXIT, ExitError } from '../exit.js';
import { failIfCapped } from '../cost-exit.js';
import { failIfUnsuccessful, stoppedExit } from '../run-exit.js';
import { checkApiKey, warnIfNoApiKey } from '../api-key.js';
import { NIGHTLY_DEFAULTS } from '../../config/defaults.js';
import { ConfigError } from '../../config/load.js';
import { MAX_DATED_NAME } from '../../config/schema.js';
import { dateIn, isDate } from '../../schedule/dates.js';
import { runDated } from '../../schedule/dated-run.js';

export function registerRun(program: Command, globals: () => GlobalFlags): void {
  addJobFlags(program.command('run').description('enqueue, work and write one run in this process; run it again to resume'))
    .option('--date <YYYY-MM-DD>', 'with incremental: true, the date of the run (default: today, UTC)')
    .option('--fresh', 'start over: forget the run in Redis, move the results file aside (<out>.<time>.bak) and send every item again')
    .action(async (jobfile: string | undefined, flags: Record<string, unknown>) => {
      const config = await configFromFlags(jobfile, flags);
      // Bad settings end the command before anything is queued or any file is written.
      await checkInputs(config.inputs, process.cwd());
      checkApiKey(process.env);
      if (config.incremental) return runIncremental(config, flags, globals());
      const session = await Session.open(globals());
      const stop = stopOnSignals(session.log);
      const progress = new Progress(session.log, { json: globals().logJson });
      try {
        session.log.info(`run ${config.name}: ${describeRunModel(config.model, config.inputs)}, concurrency ${config.concurrency}, writing ${config.out} (Redis: ${redactRedisUrl(session.target.url)}, ${session.target.origin})`);
        warnIfNoApiKey(session.log);
        progress.start();
        const result = await runPipeline(session.context, config, { signal: stop.signal, progress, fresh: flags.fresh === true }).catch((err: unknown) => {
          if (err instanceof RunStateLostError) throw new ExitError(err.message, EXIT.stateLost);
          throw err;
        });
        progress.stop();
        if (result.outcome === 'complete' && result.totals.lines === 0 && result.enqueued.alreadyDone > 0) {
          const { written } = await ledgerCounts(session.redis, runKeys(config.name, session.prefix));
          session.log.info(`run ${config.name} was already complete: its ${written} lines are in ${result.out}`);
        } else session.log.info(`run ${config.name} ${result.outcome}: ${formatTotals(result.totals)}`);
        if (result.outcome === 'stopped') throw stoppedExit(config.name, result.stopKind, result.stopReason);
        if (result.outcome === 'interrupted') throw new ExitError(`run ${config.name} interrupted; run the same command again to resume`, EXIT.interrupted);
        if ((await loadRun(session.redis, config.name, session.prefix))?.state === 'cancelled') {
          session.log.warn(`run ${config.name} was cancelled: items not sent have failed lines with error type "cancelled"; respool retry --name ${config.name} queues them again`);
        }
        session.log.info(`results: ${result.out}`);
        await failIfCapped(session, config.name, config.max_cost);
        await failIfUnsuccessful(session.redis, session.log, config.name, config.allow_failures, session.prefix);
      } finally {
        progress.stop();
        stop.dispose();
        await session.close();
      }
    });
}

/** `run` of a job with `incremental: true`: one dated run, as a schedule would start it (docs/nightly.md). */
async function runIncremental(config: JobConfig, flags: Record<string, unknown>, globals: GlobalFlags): Promise<void> {
  const date = typeof flags.date === 'string' ? flags.date : dateIn(Date.now(), NIGHTLY_DEFAULTS.tz);
  if (!isDate(date)) throw new ConfigError(`--date must be a date written YYYY-MM-DD (got "${date}")`);
  if (config.name.length > MAX_DATED_NAME) throw new ConfigError(`name: at most ${MAX_DATED_NAME} characters for an incremental job (its runs add -YYYY-MM-DD)`);
  const session = await Session.open(globals);
  const stop = stopOnSignals(session.log);
  try {
    const { summary } = await runDated(session.context, config, { date, signal: stop.signal });
    if (summary.outcome === 'stopped') {
      const status = await loadRun(session.redis, summary.run, session.prefix);
      throw stoppedExit(summary.run, status?.stopKind ?? null, status?.stopReason ?? null);
    }
    if (summary.outcome === 'interrupted') throw new ExitError(`run ${summary.run} interrupted; run the same command again to resume`, EXIT.interrupted);
    await failIfUnsuccessful(session.redis, session.log, summary.run, config.allow_failures, session.prefix);
  } finally {
    stop.dispose();
    await session.close();
  }
}
