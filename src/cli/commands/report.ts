import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { parseBy } from '../../report/aggregate.js';
import { REPORT_DEFAULTS } from '../../config/defaults.js';
import { REPORT_FORMATS, type ReportFormat } from '../../report/formats.js';
import { ReportInputError } from '../../report/read-results.js';
import { reportOn } from '../../pipeline/report.js';
import { EXIT, ExitError } from '../exit.js';

/** `respool report FILE...`: totals and breakdowns of results files; no Redis, no API. docs/cost.md. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('totals and breakdowns (cost, tokens, statuses) of results files; streams files of any size')
    .argument('<files...>', 'results files (JSONL) or globs')
    .option('--by <dimensions>', `breakdowns, comma-separated: model, run, day, status, error, tier or a metadata key (metadata.<key>); a+b groups by both`, REPORT_DEFAULTS.by)
    .addOption(new Option('-f, --format <format>', 'output format').choices([...REPORT_FORMATS]).default('table'))
    .option('-o, --out <file>', 'write the report to this file instead of stdout')
    .option('--prices <file>', 'price file over the bundled prices, for lines that carry no cost (provider batch lines; env RESPOOL_PRICES)')
    .option('--csv-raw', "csv: write names starting with = + - @ tab or CR as they are, without the leading ' that keeps spreadsheets from running them as formulas (for programs reading the file)")
    .action(async (args: string[], flags: { by: string; format: ReportFormat; out?: string; csvRaw?: boolean; prices?: string }) => {
      try {
        parseBy(flags.by);
      } catch (err) {
        throw new ExitError((err as Error).message, EXIT.badConfig);
      }
      const prices = flags.prices ?? (process.env.RESPOOL_PRICES || undefined);
      const text = await reportOn(args, { cwd: process.cwd(), by: flags.by, format: flags.format, csvRaw: flags.csvRaw === true, ...(prices ? { prices } : {}) }).catch((err: unknown) => {
        if (err instanceof ReportInputError) throw new ExitError(err.message, EXIT.badConfig);
        throw err;
      });
      if (flags.out) {
        await writeFile(flags.out, text);
        process.stderr.write(`report written to ${flags.out}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
