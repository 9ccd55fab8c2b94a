import type { Command } from 'commander';
import { addLine, emptyTotals, formatTotals } from '../../report/summary.js';
import { loadRun } from '../../queue/run-meta.js';
import { Collector, RunStateLostError } from '../../sinks/collector.js';
import { EXIT, ExitError } from '../exit.js';
import { failIfCapped } from '../cost-exit.js';
import { Progress } from '../progress.js';
import { parseRunName } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';

export function registerCollect(program: Command, globals: () => GlobalFlags): void {
  program
    .command('collect')
    .description('write a run\'s results file (the one writer per run); exits when every item has its line')
    .requiredOption('-n, --name <run>', 'run name', parseRunName)
    .option('-o, --out <file>', 'results file (default: the out path the run was enqueued with)')
    .action(async (flags: { name: string; out?: string }) => {
      const session = await Session.open(globals());
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const progress = new Progress(session.log);
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
        progress.start();
        const outcome = await collector.runUntilComplete({ signal: abort.signal }).catch((err: unknown) => {
          if (err instanceof RunStateLostError) throw new ExitError(err.message, EXIT.stateLost);
          throw err;
        });
        progress.stop();
        session.log.info(`run ${flags.name} ${outcome === 'complete' ? 'complete' : 'collector stopped'}: ${formatTotals(totals)}`);
        if (outcome !== 'complete') throw new ExitError(`collector stopped before run ${flags.name} was complete; start it again to go on`, EXIT.interrupted);
        await failIfCapped(session, flags.name, status.settings.maxCost);
      } finally {
        progress.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await collector?.close();
        await session.close();
      }
    });
}
