import type { Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { RETRYABLE_STATUSES } from '../../queue/requeue.js';
import { loadRun } from '../../queue/run-meta.js';
import { RunStore } from '../../queue/run-store.js';
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
      const bad = statuses.filter((s) => !(RETRYABLE_STATUSES as readonly string[]).includes(s));
      if (bad.length > 0 || statuses.length === 0) throw new ConfigError(`--status: ${bad.join(', ') || '(empty)'} cannot be retried; use ${RETRYABLE_STATUSES.join(' or ')}`);
      const session = await Session.open(globals());
      try {
        const run = await loadRun(session.redis, flags.name, session.prefix);
        if (!run) throw new ConfigError(`no run named ${flags.name}`);
        const queue = session.queue(flags.name);
        // A cancelled or stopped run runs again: its queue is resumed for the re-queued items.
        const store = new RunStore(session.redis, flags.name, session.prefix);
        await store.markRunning();
        await queue.resume();
        const result = await store.requeue(queue, statuses, run.settings.attempts);
        session.log.info(`run ${flags.name}: ${result.requeued} item(s) with a ${statuses.join(' or ')} line queued again`);
        if (result.missing > 0) session.log.warn(`${result.missing} ${statuses.join('/')} line(s) cannot be retried: their items were not kept in Redis`);
        if (result.requeued > 0) session.log.info(`start workers and the collector to write their new lines (respool worker; respool collect --name ${flags.name}), or run the job again`);
      } finally {
        await session.close();
      }
    });
}
