import type { Command } from 'commander';
import { listRuns } from '../../queue/run-meta.js';
import { WorkerSet } from '../../worker/worker-set.js';
import { startScheduledRuns } from '../../schedule/scheduled-runs.js';
import { EXIT } from '../exit.js';
import { parsePositiveInt } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';
import { checkApiKey, warnIfNoApiKey } from '../api-key.js';

/** After the grace period, how long closing connections may take before the worker exits anyway. */
const SHUTDOWN_MARGIN_MS = 10_000;

export function registerWorker(program: Command, globals: () => GlobalFlags): void {
  program
    .command('worker')
    .description('work on queued runs (every run in this Redis, or --name); start as many as you like, on any machine')
    .option('-c, --concurrency <n>', 'API calls in flight in this process, per run (env RESPOOL_CONCURRENCY)', process.env.RESPOOL_CONCURRENCY || '16')
    .option('-n, --name <run>', 'only this run')
    .option('--base-url <url>', 'override the base URL the run was enqueued with (env OPENRESPONSES_BASE_URL)')
    .option('--grace <seconds>', 'on SIGTERM/SIGINT, how long calls in flight may take to finish', '30')
    .option('--no-schedules', 'do not start scheduled runs (without --name, workers start them and write their results)')
    .action(async (flags: { concurrency: string; name?: string; baseUrl?: string; grace: string; schedules: boolean }) => {
      const concurrency = parsePositiveInt(flags.concurrency, '--concurrency');
      const graceMs = parsePositiveInt(flags.grace, '--grace') * 1000;
      checkApiKey(process.env);
      const session = await Session.open(globals());
      const baseUrl = flags.baseUrl ?? process.env.OPENRESPONSES_BASE_URL;
      const workers = new WorkerSet({
        redis: session.connection('workers'),
        log: session.log,
        concurrency,
        apiKey: process.env.OPENRESPONSES_API_KEY,
        ...(baseUrl ? { baseUrl } : {}),
        prefix: session.prefix,
      });
      let stopping = false;
      const abort = new AbortController();
      // Scheduled runs fire here: this process enqueues the dated run and is its collector.
      const scheduled = flags.schedules && !flags.name ? startScheduledRuns(session, workers, abort.signal) : null;
      const done = new Promise<void>((resolve) => {
        const onSignal = () => {
          if (stopping) process.exit(EXIT.interrupted);
          stopping = true;
          abort.abort();
          session.log.info(`stopping: no new jobs; waiting up to ${graceMs / 1000}s for calls in flight (signal again to exit at once)`);
          // Closing can hang while Redis is unreachable; past the grace and a margin, exit anyway.
          setTimeout(() => {
            session.log.warn('could not close in time (is Redis reachable?); exiting; jobs in flight come back through the stalled check');
            process.exit(EXIT.interrupted);
          }, graceMs + SHUTDOWN_MARGIN_MS).unref();
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      // Said once the signal handlers are in place: a script may wait for this line, then stop the worker.
      warnIfNoApiKey(session.log);
      // Runs are found in Redis, so workers started before `enqueue` pick the run up when it appears.
      const discover = async () => {
        await workers.refreshStopped();
        const runs = flags.name ? [flags.name] : await listRuns(session.redis, session.prefix);
        for (const run of runs) {
          if (!workers.runNames.includes(run)) {
            await workers.add(run);
            session.log.info(`working on run ${run} (concurrency ${concurrency})`);
          }
        }
      };
      await discover();
      const timer = setInterval(() => discover().catch((err: Error) => session.log.warn(`finding runs: ${err.message}`)), 2000);
      await done;
      clearInterval(timer);
      await scheduled?.close();
      if (!(await workers.close(graceMs))) {
        // Calls still in flight are abandoned: their jobs keep their lock until it expires, then another
        // worker's stalled check queues them again without using an attempt.
        session.log.warn(`grace of ${graceMs / 1000}s over; calls still in flight are left to other workers; worker stopped; it delivered ${workers.delivered} lines`);
        process.exit(EXIT.interrupted);
      }
      await session.close();
      session.log.info(`worker stopped; it delivered ${workers.delivered} lines`);
    });
}
