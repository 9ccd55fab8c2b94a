import type { Command } from 'commander';
import { cleanRun, runNames } from '../../pipeline/run-control.js';
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
        const runs = flags.all ? await runNames(session.context) : [flags.name!];
        for (const run of runs) {
          if (!(await cleanRun(session.context, run))) throw new ConfigError(`no run named ${run}`);
          session.log.info(`forgot run ${run}`);
        }
      } finally {
        await session.close();
      }
    });
}
