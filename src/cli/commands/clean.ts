import type { Command } from 'commander';
import { cleanRun } from '../../queue/clean.js';
import { listRuns } from '../../queue/run-meta.js';
import { ConfigError } from '../../config/load.js';
import { parseRunName } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';

export function registerClean(program: Command, globals: () => GlobalFlags): void {
  program
    .command('clean')
    .description('forget a run: delete its queue, ledger and settings from Redis (the results file stays: running the run again reads it back; --fresh on run starts over)')
    .option('-n, --name <run>', 'the run to forget', parseRunName)
    .option('--all', 'forget every run')
    .action(async (flags: { name?: string; all?: boolean }) => {
      if (!flags.name && !flags.all) throw new ConfigError('clean needs --name RUN or --all');
      const session = await Session.open(globals());
      try {
        const known = await listRuns(session.redis, session.prefix);
        if (flags.name && !known.includes(flags.name)) throw new ConfigError(`no run named ${flags.name}`);
        const runs = flags.all ? known : [flags.name!];
        for (const run of runs) {
          await cleanRun(session.redis, session.queue(run), run, session.prefix);
          session.log.info(`forgot run ${run}`);
        }
      } finally {
        await session.close();
      }
    });
}
