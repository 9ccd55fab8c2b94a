import type { Command } from 'commander';
import { addLine, emptyTotals, formatTotals } from '../../report/line-totals.js';
import { loadRun } from '../../queue/run-meta.js';
import { Collector, RunStateLostError } from '../../sinks/collector.js';
import { EXIT, ExitError } from '../exit.js';
import { failIfCapped } from '../cost-exit.js';
import { failIfUnsuccessful } from '../run-exit.js';
import { Progress } from '../progress.js';
import { followRunProgress } from '../run-progress.js';
import { parseRunName } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';

export function registerCollect(program: Command, globals: () => GlobalFlags): void {
  program
    .command('collect')
    .description('write a run\'s results file (the one writer per run); exits when every item has its line')
    .requiredOption('-n, --name <run>', 'run name', parseRunName)
    .option('-o, --out <file>', 'results file (default: the out path the run was enqueued with)')
    .option('--allow-failures', 'exit 0, not 5, when the run completes with failed, incomplete or invalid_output lines (default: the run\'s allow_failures)')
    .action(async (flags: { name: string; out?: string; allowFailures?: boolean }) => {
      const session = await Session.open(globals());
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const progress = new Progress(session.log, { json: globals().logJson });
      let collector: Collector | null = null;
      try {
        // The run may not be registered yet when collect starts first: wait for it.
        let status = await loadRun(session.redis, flags.name, session.prefix);
        while (!status && !abort.signal.aborted) {
          session.log.info(`waiting for run ${flags.name} to be enqueued`);
          await new Promise((r) => setTimeout(r, 1000));
          status = await loadRun(session.redis, flags.name, session.prefix);
        }
        if (!status) throw new ExitError('interrupted', EXIT.interrupted);
        const totals = emptyTotals();
        collector = new Collector({
          redis: session.connection('collector'),
          queue: session.queue(flags.name),
          run: flags.name,
          out: flags.out ?? status.settings.out,
          log: session.log,
          prefix: session.prefix,
          onWritten: (lines) => {
            for (const l of lines) addLine(totals, l);
            progress.onLines(lines);
          },
        });
        await collector.start();
        session.log.info(`collecting run ${flags.name} into ${collector.path}`);
        await followRunProgress(progress, session, flags.name);
        progress.start();
        const outcome = await collector.runUntilComplete({ signal: abort.signal, shouldStop: reportStops(session, flags.name) }).catch((err: unknown) => {
          if (err instanceof RunStateLostError) throw new ExitError(err.message, EXIT.stateLost);
          throw err;
        });
        progress.stop();
        session.log.info(`run ${flags.name} ${outcome === 'complete' ? 'complete' : 'collector stopped'}: ${formatTotals(totals)}`);
        if (outcome !== 'complete') throw new ExitError(`collector stopped before run ${flags.name} was complete; start it again to go on`, EXIT.interrupted);
        await failIfCapped(session, flags.name, status.settings.maxCost);
        await failIfUnsuccessful(session.redis, session.log, flags.name, flags.allowFailures ?? status.settings.allowFailures ?? false, session.prefix);
      } finally {
        progress.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await collector?.close();
        await session.close();
      }
    });
}

/**
 * The collector of a stopped run keeps waiting (enqueueing the run again resumes it), but says once
 * per stop why nothing comes, so that whoever watches it knows what to fix. Never stops it.
 */
function reportStops(session: Session, run: string): () => Promise<boolean> {
  let reported = false;
  let lastCheck = 0;
  return async () => {
    if (Date.now() - lastCheck < 1000) return false;
    lastCheck = Date.now();
    const status = await loadRun(session.redis, run, session.prefix);
    const stopped = status?.state === 'stopped';
    if (stopped && !reported) {
      const next = status.stopKind === 'api_unavailable' ? 'fix the API or the base URL, then enqueue the run again' : 'fix the key, then enqueue the run again';
      session.log.error(`run ${run} stopped: ${status.stopReason ?? 'unknown reason'}; this collector waits (${next})`);
    }
    reported = stopped;
    return false;
  };
}
