import type { Command } from 'commander';
import { formatTotals } from '../../report/line-totals.js';
import { RunStateLostError } from '../../sinks/collector.js';
import { collectRun } from '../../pipeline/collect.js';
import { EXIT, ExitError } from '../exit.js';
import { failIfCapped } from '../cost-exit.js';
import { failIfUnsuccessful } from '../run-exit.js';
import { Progress } from '../progress.js';
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
      try {
        const result = await collectRun(session.context, flags.name, {
          ...(flags.out ? { out: flags.out } : {}),
          signal: abort.signal,
          progress,
          onWaitingForRun: () => session.log.info(`waiting for run ${flags.name} to be enqueued`),
          onStart: (out) => {
            session.log.info(`collecting run ${flags.name} into ${out}`);
            progress.start();
          },
          onStopped: ({ reason, kind }) => {
            const next = kind === 'api_unavailable' ? 'fix the API or the base URL, then enqueue the run again' : 'fix the key, then enqueue the run again';
            session.log.error(`run ${flags.name} stopped: ${reason ?? 'unknown reason'}; this collector waits (${next})`);
          },
        }).catch((err: unknown) => {
          if (err instanceof RunStateLostError) throw new ExitError(err.message, EXIT.stateLost);
          throw err;
        });
        if (!result.settings) throw new ExitError('interrupted', EXIT.interrupted);
        progress.stop();
        session.log.info(`run ${flags.name} ${result.outcome === 'complete' ? 'complete' : 'collector stopped'}: ${formatTotals(result.totals)}`);
        if (result.outcome !== 'complete') throw new ExitError(`collector stopped before run ${flags.name} was complete; start it again to go on`, EXIT.interrupted);
        await failIfCapped(session, flags.name, result.settings.maxCost);
        await failIfUnsuccessful(session.redis, session.log, flags.name, flags.allowFailures ?? result.settings.allowFailures ?? false, session.prefix);
      } finally {
        progress.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await session.close();
      }
    });
}
