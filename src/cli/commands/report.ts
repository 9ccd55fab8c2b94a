import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { REPORT_DEFAULTS } from '../../config/defaults.js';
import { parseBy, ReportAggregator } from '../../report/aggregate.js';
import { formatCsv, formatJson, formatMarkdown, formatTable, REPORT_FORMATS, type ReportFormat } from '../../report/formats.js';
import { formatHtml } from '../../report/html.js';
import { expandResultFiles, readResults, ReportInputError } from '../../report/read-results.js';
import { loadPrices } from '../../cost/load-prices.js';
import { Pricer } from '../../cost/pricer.js';
import { EXIT, ExitError } from '../exit.js';

/** `respool report FILE...`: totals and breakdowns of results files; no Redis, no API. docs/cost.md. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('totals and breakdowns (cost, tokens, statuses) of results files; streams files of any size')
    .argument('<files...>', 'results files (JSONL) or globs')
    .option('--by <dimensions>', `breakdowns, comma-separated: model, run, day, status, error or a metadata key (metadata.<key>); a+b groups by both`, REPORT_DEFAULTS.by)
    .addOption(new Option('-f, --format <format>', 'output format').choices([...REPORT_FORMATS]).default('table'))
    .option('-o, --out <file>', 'write the report to this file instead of stdout')
    .option('--prices <file>', 'price file over the bundled prices, for lines that carry no cost (provider batch lines; env RESPOOL_PRICES)')
    .option('--csv-raw', "csv: write names starting with = + - @ tab or CR as they are, without the leading ' that keeps spreadsheets from running them as formulas (for programs reading the file)")
    .action(async (args: string[], flags: { by: string; format: ReportFormat; out?: string; csvRaw?: boolean; prices?: string }) => {
      let by;
      try {
        by = parseBy(flags.by);
      } catch (err) {
        throw new ExitError((err as Error).message, EXIT.badConfig);
      }
      let files: string[];
      try {
        files = await expandResultFiles(args, process.cwd());
      } catch (err) {
        if (err instanceof ReportInputError) throw new ExitError(err.message, EXIT.badConfig);
        throw err;
      }
      // Provider batch lines carry usage but no cost: they are priced here, as a run prices its lines.
      const pricer = new Pricer(await loadPrices(flags.prices ?? (process.env.RESPOOL_PRICES || undefined)));
      const agg = new ReportAggregator(by, (model, usage) => pricer.costOf(model, usage));
      await readResults(files, agg);
      const ctx = { files: files.map((f) => path.relative(process.cwd(), f) || f) };
      const text =
        flags.format === 'csv' ? formatCsv(agg, { csvRaw: flags.csvRaw === true })
        : flags.format === 'json' ? formatJson(agg, ctx)
        : flags.format === 'markdown' ? formatMarkdown(agg, ctx)
        : flags.format === 'html' ? formatHtml(agg, ctx)
        : formatTable(agg, ctx);
      if (flags.out) {
        await writeFile(flags.out, text);
        process.stderr.write(`report written to ${flags.out}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
