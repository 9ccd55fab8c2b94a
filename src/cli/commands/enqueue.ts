import type { Command } from 'commander';
import { addJobFlags, configFromFlags } from '../job-flags.js';
import { Session, type GlobalFlags } from '../session.js';
import { enqueueRun } from './run.js';

export function registerEnqueue(program: Command, globals: () => GlobalFlags): void {
  addJobFlags(program.command('enqueue').description('read the inputs and put every item in the run queue (workers and a collector do the rest)'))
    .action(async (jobfile: string | undefined, flags: Record<string, unknown>) => {
      const config = await configFromFlags(jobfile, flags);
      const session = await Session.open(globals());
      try {
        const stats = await enqueueRun(session, config, (s) => session.log.debug(`enqueue ${config.name}: ${s.read} read`));
        session.log.info(
          `enqueued run ${config.name}: ${stats.read} read, ${stats.added} queued, ${stats.rejected} rejected, ${stats.alreadyDone} already written, ${stats.duplicates} duplicate ids`,
        );
        process.stdout.write(`${config.name}\n`);
      } finally {
        await session.close();
      }
    });
}
