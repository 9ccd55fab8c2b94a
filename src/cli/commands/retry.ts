import type { Command } from 'commander';
import { RETRYABLE_STATUSES } from '../../queue/requeue.js';
import { checkRetryStatuses, retryRun } from '../../pipeline/run-control.js';
import { parseRunName } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';

export function registerRetry(program: Command, globals: () => GlobalFlags): void {
  program
    .command('retry')
    .description('queue again the items of a run whose line is failed (or incomplete); their new line replaces the old one in the results file')
    .requiredOption('-n, --name <run>', 'the run', parseRunName)
    .option('--status <statuses>', `line statuses to retry, comma-separated: ${RETRYABLE_STATUSES.join(', ')}`, 'failed')
    .action(async (flags: { name: string; status: string }) => {
      const statuses = flags.status.split(',').map((s) => s.trim()).filter(Boolean);
      // Bad statuses end the command before it connects to Redis.
      checkRetryStatuses(statuses);
      const session = await Session.open(globals());
      try {
        const result = await retryRun(session.context, flags.name, statuses);
        session.log.info(`run ${flags.name}: ${result.requeued} item(s) with a ${statuses.join(' or ')} line queued again`);
        if (result.missing > 0) session.log.warn(`${result.missing} ${statuses.join('/')} line(s) cannot be retried: their items were not kept in Redis`);
        if (result.requeued > 0) session.log.info(`start workers and the collector to write their new lines (respool worker; respool collect --name ${flags.name}), or run the job again`);
      } finally {
        await session.close();
      }
    });
}
