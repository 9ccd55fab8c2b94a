import type { Command } from 'commander';
import { cancelRun } from '../../pipeline/run-control.js';
import { parsePositiveInt, parseRunName } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';

export function registerCancel(program: Command, globals: () => GlobalFlags): void {
  program
    .command('cancel')
    .description('stop a run: no new calls; items not yet sent end as failed lines with error type "cancelled" (retry re-queues them)')
    .requiredOption('-n, --name <run>', 'the run to cancel', parseRunName)
    .option('--wait <seconds>', 'how long to wait for calls in flight to finish', '60')
    .action(async (flags: { name: string; wait: string }) => {
      const waitMs = parsePositiveInt(flags.wait, '--wait') * 1000;
      const session = await Session.open(globals());
      try {
        const { ended, stillActive } = await cancelRun(session.context, flags.name, { waitMs });
        session.log.info(`cancelled run ${flags.name}: ${ended} item(s) ended as cancelled`);
        if (stillActive > 0) session.log.warn(`${stillActive} call(s) still in flight after ${flags.wait}s; they end with their own lines`);
        session.log.info(`the run's collector (respool collect, or respool run) writes the lines; respool retry --name ${flags.name} queues the cancelled items again`);
      } finally {
        await session.close();
      }
    });
}
