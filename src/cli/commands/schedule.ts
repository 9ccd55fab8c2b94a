import type { Command } from 'commander';
import { NIGHTLY_DEFAULTS } from '../../config/defaults.js';
import { ConfigError } from '../../config/load.js';
import { resetIncremental } from '../../queue/incremental.js';
import { MAX_DATED_NAME } from '../../config/schema.js';
import { isTimeZone } from '../../schedule/dates.js';
import { absoluteConfig, listSchedules, removeSchedule, schedulerQueue, upsertSchedule, type Repeat, type ScheduleInfo } from '../../schedule/scheduler.js';
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
      const tz = flags.tz ?? NIGHTLY_DEFAULTS.tz;
      if (!isTimeZone(tz)) throw new ConfigError(`--tz: unknown time zone "${tz}" (use an IANA name such as Europe/Berlin)`);
      const config = absoluteConfig(await configFromFlags(jobfile, flags), process.cwd());
      if (config.name.length > MAX_DATED_NAME) throw new ConfigError(`name: at most ${MAX_DATED_NAME} characters for a schedule (its runs add -YYYY-MM-DD)`);
      const repeat: Repeat = flags.cron !== undefined ? { pattern: flags.cron, tz } : { every: parsePositiveInt(flags.every!, '--every'), tz };
      const session = await Session.open(globals());
      const queue = schedulerQueue(session.redis, session.prefix);
      try {
        await upsertSchedule(queue, config, repeat).catch((err: Error) => {
          throw new ConfigError(`--cron: ${err.message}`);
        });
        const [info] = (await listSchedules(queue)).filter((s) => s.name === config.name);
        session.log.info(`schedule ${config.name}: ${flags.cron ?? `every ${flags.every} ms`} (${tz}), next run ${info?.next ?? 'unknown'}, writing ${config.out}`);
        if (!config.incremental) session.log.warn(`schedule ${config.name}: incremental is not set, so every run sends every item`);
      } finally {
        await queue.close();
        await session.close();
      }
    });
}

async function manage(flags: ScheduleFlags, globals: GlobalFlags): Promise<void> {
  const session = await Session.open(globals);
  const queue = schedulerQueue(session.redis, session.prefix);
  try {
    if (flags.remove) {
      if (!(await removeSchedule(queue, flags.remove))) throw new ConfigError(`no schedule named ${flags.remove}`);
      session.log.info(`removed schedule ${flags.remove}`);
    }
    if (flags.resetState) {
      const n = await resetIncremental(session.redis, flags.resetState, session.prefix);
      session.log.info(n > 0 ? `forgot the incremental state of ${flags.resetState}` : `${flags.resetState} had no incremental state`);
    }
    if (flags.list) {
      const all = await listSchedules(queue);
      if (flags.json) process.stdout.write(`${JSON.stringify(all)}\n`);
      else if (all.length === 0) process.stdout.write('no schedules\n');
      else process.stdout.write(`${scheduleTable(all)}\n`);
    }
  } finally {
    await queue.close();
    await session.close();
  }
}

/** `schedule --list`: one row per schedule, with a header. */
export function scheduleTable(schedules: ScheduleInfo[]): string {
  const rows = schedules.map((s) => [s.name, s.pattern ?? `every ${s.every} ms`, s.tz, s.next ?? '-', s.out ?? '-']);
  return formatTable(['NAME', 'SCHEDULE', 'TZ', 'NEXT RUN', 'OUT'], rows, 5);
}
