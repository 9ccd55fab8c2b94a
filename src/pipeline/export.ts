import { access } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../config/load.js';
import { outAliasProblem } from '../config/out-path.js';
import type { Logger } from '../core/logger.js';
import { InputTableError } from '../sinks/export/input-table.js';
import { exportFormatFor, exportJoined, type ExportFormat, type ExportStats } from '../sinks/export/join.js';

export type { ExportStats, ExportFormat } from '../sinks/export/join.js';

/** Options of an export (`respool export`, `rp.export`). */
export interface ExportRequest {
  /** The CSV or JSONL input the run read (`.csv`, `.jsonl` or `.ndjson`). */
  join: string;
  /** The file to write (`.csv` or `.jsonl`). */
  out: string;
  /**
   * @default from the extension of `out`
   */
  format?: ExportFormat;
  /**
   * The id column the run used (its `id_column`).
   * @default the column the run's reader took: `custom_id`, `id`, or `<file>:<line>`
   */
  idColumn?: string;
  /**
   * CSV: write text cells starting with = + - @ tab or CR as they are, without the leading `'` that keeps
   * spreadsheets from running them as formulas (for programs reading the file).
   * @default false
   */
  csvRaw?: boolean;
}

/** A results file or the input to join that cannot be read, or an input that is not a table. */
export class ExportInputError extends Error {
  override name = 'ExportInputError';
}

/** How the caller names the options, for messages: the command line's flags, or the library's keys. */
export interface ExportOptionNames {
  join: string;
  out: string;
  format: string;
  idColumn: string;
}

const OPTION_NAMES: ExportOptionNames = { join: 'join', out: 'out', format: 'format', idColumn: 'idColumn' };

/**
 * Joins a results file back onto the CSV or JSONL rows it came from: one row per input row, with the
 * answer fields, status and cost; rows without a result are kept (`no_result`). Relative paths
 * resolve against `cwd`. Throws a ConfigError for a bad option, an ExportInputError for a file it
 * cannot read.
 */
export async function exportResults(results: string, req: ExportRequest, cwd: string, log: Logger, names: ExportOptionNames = OPTION_NAMES): Promise<ExportStats> {
  const format = exportFormatFor(req.out, req.format);
  if (!format) throw new ConfigError(`${names.out} ${req.out}: cannot tell the format from the extension; give ${names.format} csv or ${names.format} jsonl`);
  if (!/\.(csv|jsonl|ndjson)$/i.test(req.join)) throw new ConfigError(`${names.join} ${req.join}: give the CSV or JSONL input the run read (.csv, .jsonl or .ndjson)`);
  for (const file of [results, req.join]) {
    try {
      await access(path.resolve(cwd, file));
    } catch {
      throw new ExportInputError(`cannot read ${file}`);
    }
  }
  // By device and inode too: a link to an input would be truncated by the write.
  if (outAliasProblem(path.resolve(cwd, req.out), [path.resolve(cwd, results), path.resolve(cwd, req.join)]) !== null) {
    throw new ConfigError(`${names.out} ${req.out} would overwrite an input of the export`);
  }
  const stats = await exportJoined({ results, join: req.join, out: req.out, format, cwd, ...(req.idColumn ? { idColumn: req.idColumn } : {}), csvRaw: req.csvRaw === true }).catch((err: unknown) => {
    if (err instanceof InputTableError) throw new ExportInputError(err.message);
    throw err;
  });
  log.info(`exported ${stats.rows} rows to ${req.out}: ${stats.withResult} with a result, ${stats.withoutResult} without (status no_result)`);
  if (stats.unmatchedResults > 0) log.warn(`${stats.unmatchedResults} results have no row in ${req.join} (another input of the run, or another ${names.idColumn})`);
  if (stats.repeatedResultIds > 0) log.warn(`${stats.repeatedResultIds} custom_ids appear on several results lines; the last one was used`);
  if (stats.unreadableResultLines > 0) log.warn(`${stats.unreadableResultLines} lines of ${results} are not results lines and were skipped`);
  if (stats.stoppedAt) log.warn(`${req.join}:${stats.stoppedAt.line}: malformed CSV (${stats.stoppedAt.message}); the rows after it were not exported`);
  return stats;
}
