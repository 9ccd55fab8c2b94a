import type { Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { addJobFlags, configFromFlags } from '../job-flags.js';
import { checkInputs } from '../../pipeline/input-check.js';
import { parsePositiveInt } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';
import { enqueueRun } from '../../pipeline/enqueue.js';

export function registerEnqueue(program: Command, globals: () => GlobalFlags): void {
  addJobFlags(program.command('enqueue').description('read the inputs and put every item in the run queue (workers and a collector do the rest)'))
    .option('--max-queued <n>', 'wait while more than this many items wait for a worker (default: no limit)')
    .option('--fresh', 'start over: forget the run in Redis; its collector moves the results file aside (<out>.<time>.bak); every item is sent again')
    .action(async (jobfile: string | undefined, flags: Record<string, unknown>) => {
      const config = await configFromFlags(jobfile, flags);
      // An incremental run records what it wrote; only the process that writes the results can.
      if (config.incremental) throw new ConfigError('incremental: true jobs are started by `respool run` or `respool schedule`, not `enqueue`');
      const maxQueued = typeof flags.maxQueued === 'string' ? parsePositiveInt(flags.maxQueued, '--max-queued') : undefined;
      // Bad settings end the command before anything is queued.
      await checkInputs(config.inputs, process.cwd());
      const session = await Session.open(globals());
      try {
        const stats = await enqueueRun(session.context, config, {
          onChunk: (s) => session.log.debug(`enqueue ${config.name}: ${s.read} read`),
          readResults: true,
          fresh: flags.fresh === true,
          ...(maxQueued === undefined ? {} : { maxQueued }),
        });
        session.log.info(
          `enqueued run ${config.name}: ${stats.read} read, ${stats.added} queued, ${stats.rejected} rejected, ${stats.alreadyDone} already written, ${stats.duplicates} duplicate ids`,
        );
        process.stdout.write(`${config.name}\n`);
      } finally {
        await session.close();
      }
    });
}
