import type { Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { loadRun } from '../../queue/run-meta.js';
import { cancelWaitingJobs, markCancelled } from '../../queue/cancel.js';
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
        if (!(await loadRun(session.redis, flags.name, session.prefix))) throw new ConfigError(`no run named ${flags.name}`);
        const queue = session.queue(flags.name);
        await markCancelled(session.redis, queue, flags.name, session.prefix);
        let ended = await cancelWaitingJobs(session.redis, queue, flags.name, session.prefix);
        // Calls in flight finish with their own lines; an attempt that fails now goes back to the
        // queue, where the next sweep (here, or the run's collector) ends it as cancelled.
        const deadline = Date.now() + waitMs;
        let active = (await queue.getJobCounts('active')).active ?? 0;
        while (active > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          ended += await cancelWaitingJobs(session.redis, queue, flags.name, session.prefix);
          active = (await queue.getJobCounts('active')).active ?? 0;
        }
        ended += await cancelWaitingJobs(session.redis, queue, flags.name, session.prefix);
        session.log.info(`cancelled run ${flags.name}: ${ended} item(s) ended as cancelled`);
        if (active > 0) session.log.warn(`${active} call(s) still in flight after ${flags.wait}s; they end with their own lines`);
        session.log.info(`the run's collector (respool collect, or respool run) writes the lines; respool retry --name ${flags.name} queues the cancelled items again`);
      } finally {
        await session.close();
      }
    });
}
