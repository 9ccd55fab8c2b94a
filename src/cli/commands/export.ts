import { access } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { ConfigError } from '../../config/load.js';
import { outAliasProblem } from '../../config/out-path.js';
import { InputTableError } from '../../sinks/export/input-table.js';
import { exportFormatFor, exportJoined } from '../../sinks/export/join.js';
import { EXIT, ExitError } from '../exit.js';
import { createLogger } from '../logger.js';
import type { GlobalFlags } from '../session.js';

interface ExportFlags {
  join: string;
  out: string;
  format?: string;
  idColumn?: string;
  csvRaw?: boolean;
}

export function registerExport(program: Command, globals: () => GlobalFlags): void {
  program
    .command('export')
    .description('join a results file back onto the CSV or JSONL rows it came from: one row per input row, with the answer fields, status and cost')
    .argument('<results>', 'results file (JSONL, respool or openai-batch lines)')
    .requiredOption('--join <input>', 'the CSV or JSONL input the run read')
    .requiredOption('-o, --out <file>', 'file to write (.csv or .jsonl)')
    .addOption(new Option('--format <format>', 'output format (default: from the --out extension)').choices(['csv', 'jsonl']))
    .option('--id-column <column>', 'the id column the run used (as its id_column)')
    .option('--csv-raw', "CSV: write text cells starting with = + - @ tab or CR as they are, without the leading ' that keeps spreadsheets from running them as formulas (for programs reading the file)")
    .action(async (results: string, flags: ExportFlags) => {
      const g = globals();
      const log = createLogger({ level: g.logLevel, json: g.logJson });
      const format = exportFormatFor(flags.out, flags.format);
      if (!format) throw new ConfigError(`--out ${flags.out}: cannot tell the format from the extension; give --format csv or --format jsonl`);
      if (!/\.(csv|jsonl|ndjson)$/i.test(flags.join)) throw new ConfigError(`--join ${flags.join}: give the CSV or JSONL input the run read (.csv, .jsonl or .ndjson)`);
      for (const file of [results, flags.join]) {
        try {
          await access(file);
        } catch {
          throw new ExitError(`cannot read ${file}`, EXIT.fatal);
        }
      }
      // By device and inode too: a link to an input would be truncated by the write.
      if (outAliasProblem(flags.out, [results, flags.join]) !== null) {
        throw new ConfigError(`--out ${flags.out} would overwrite an input of the export`);
      }
      try {
        const stats = await exportJoined({ results, join: flags.join, out: flags.out, format, cwd: process.cwd(), ...(flags.idColumn ? { idColumn: flags.idColumn } : {}), csvRaw: flags.csvRaw === true });
        log.info(`exported ${stats.rows} rows to ${flags.out}: ${stats.withResult} with a result, ${stats.withoutResult} without (status no_result)`);
        if (stats.unmatchedResults > 0) log.warn(`${stats.unmatchedResults} results have no row in ${flags.join} (another input of the run, or another --id-column)`);
        if (stats.repeatedResultIds > 0) log.warn(`${stats.repeatedResultIds} custom_ids appear on several results lines; the last one was used`);
        if (stats.unreadableResultLines > 0) log.warn(`${stats.unreadableResultLines} lines of ${results} are not results lines and were skipped`);
        if (stats.stoppedAt) log.warn(`${flags.join}:${stats.stoppedAt.line}: malformed CSV (${stats.stoppedAt.message}); the rows after it were not exported`);
      } catch (err) {
        if (err instanceof InputTableError) throw new ExitError(err.message, EXIT.fatal);
        throw err;
      }
    });
}
