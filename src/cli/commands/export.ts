import { Option, type Command } from 'commander';
import { exportResults, ExportInputError, type ExportFormat, type ExportRequest } from '../../pipeline/export.js';
import { EXIT, ExitError } from '../exit.js';
import { createLogger } from '../logger.js';
import type { GlobalFlags } from '../session.js';

interface ExportFlags {
  join: string;
  out: string;
  /** Commander's `choices` let only these through. */
  format?: ExportFormat;
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
      const request: ExportRequest = {
        join: flags.join,
        out: flags.out,
        ...(flags.format ? { format: flags.format } : {}),
        ...(flags.idColumn ? { idColumn: flags.idColumn } : {}),
        csvRaw: flags.csvRaw === true,
      };
      try {
        await exportResults(results, request, process.cwd(), log, FLAG_NAMES);
      } catch (err) {
        if (err instanceof ExportInputError) throw new ExitError(err.message, EXIT.fatal);
        throw err;
      }
    });
}

const FLAG_NAMES = { join: '--join', out: '--out', format: '--format', idColumn: '--id-column' };
