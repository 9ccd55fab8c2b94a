import type { Command } from 'commander';
import { NIGHTLY_DEFAULTS } from '../../config/defaults.js';
import { ConfigError } from '../../config/load.js';
import { addSchedule, forgetIncremental, schedules, unschedule, type ScheduleInfo, type ScheduleOptions } from '../../schedule/manage.js';
import { addJobFlags, configFromFlags } from '../job-flags.js';
import { parsePositiveInt } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';
import { formatTable } from '../table.js';

interface ScheduleFlags extends Record<string, unknown> {
  cron?: string;
  every?: string;
  tz?: string;
  list?: boolean;
  remove?: string;
  resetState?: string;
  json?: boolean;
}

export function registerSchedule(program: Command, globals: () => GlobalFlags): void {
  addJobFlags(
    program
      .command('schedule')
      .description('run a job on a schedule: `respool worker` processes start each dated run and write its results (docs/nightly.md)'),
  )
    .option('--cron <pattern>', 'cron pattern, e.g. "0 2 * * *" (every day at 02:00)')
    .option('--every <ms>', 'instead of --cron: every N milliseconds (for trying a schedule out)')
    .option('--tz <zone>', `time zone of the pattern and of {date} (IANA name, e.g. Europe/Berlin; default ${NIGHTLY_DEFAULTS.tz})`)
    .option('--list', 'list the schedules')
    .option('--json', 'with --list: JSON')
    .option('--remove <name>', 'remove a schedule (its incremental state stays; see --reset-state)')
    .option('--reset-state <name>', 'forget what a job has captioned: its next run sends every item again')
    .action(async (jobfile: string | undefined, flags: ScheduleFlags) => {
      if (flags.list || flags.remove || flags.resetState) return manage(flags, globals());
      if (!jobfile) throw new ConfigError('schedule needs a job file (or --list, --remove NAME, --reset-state NAME)');
      if ((flags.cron === undefined) === (flags.every === undefined)) throw new ConfigError('schedule needs either --cron PATTERN or --every MS');
      const config = await configFromFlags(jobfile, flags);
      const when: ScheduleOptions = flags.cron !== undefined ? { cron: flags.cron } : { everyMs: parsePositiveInt(flags.every!, '--every') };
      const session = await Session.open(globals());
      try {
        const info = await addSchedule(session.context, config, { ...when, ...(flags.tz ? { tz: flags.tz } : {}) });
        session.log.info(`schedule ${info.name}: ${flags.cron ?? `every ${flags.every} ms`} (${info.tz}), next run ${info.next ?? 'unknown'}, writing ${info.out}`);
      } finally {
        await session.close();
      }
    });
}

async function manage(flags: ScheduleFlags, globals: GlobalFlags): Promise<void> {
  const session = await Session.open(globals);
  try {
    if (flags.remove) {
      if (!(await unschedule(session.context, flags.remove))) throw new ConfigError(`no schedule named ${flags.remove}`);
      session.log.info(`removed schedule ${flags.remove}`);
    }
    if (flags.resetState) {
      const forgot = await forgetIncremental(session.context, flags.resetState);
      session.log.info(forgot ? `forgot the incremental state of ${flags.resetState}` : `${flags.resetState} had no incremental state`);
    }
    if (flags.list) {
      const all = await schedules(session.context);
      if (flags.json) process.stdout.write(`${JSON.stringify(all)}\n`);
      else if (all.length === 0) process.stdout.write('no schedules\n');
      else process.stdout.write(`${scheduleTable(all)}\n`);
    }
  } finally {
    await session.close();
  }
}

/** `schedule --list`: one row per schedule, with a header. */
export function scheduleTable(schedules: ScheduleInfo[]): string {
  const rows = schedules.map((s) => [s.name, s.pattern ?? `every ${s.every} ms`, s.tz, s.next ?? '-', s.out ?? '-']);
  return formatTable(['NAME', 'SCHEDULE', 'TZ', 'NEXT RUN', 'OUT'], rows, 5);
}
