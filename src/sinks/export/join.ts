/**
 * `respool export`: the rows of a CSV or JSONL input a run read, each with its result, as CSV or JSONL. The
 * results are read first into a small index by custom_id; the input is then streamed row by row, so
 * neither file is held in memory. Rows without a result are kept, with status `no_result`.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { csvTextCell } from './csv-cell.js';
import { cellText } from './flatten.js';
import { openCsvRows } from './csv-rows.js';
import { openJsonlRows } from './jsonl-rows.js';
import { readResultIndex, type ResultRecord } from './result-index.js';

export type ExportFormat = 'csv' | 'jsonl';

export interface ExportOptions {
  results: string;
  join: string;
  out: string;
  format: ExportFormat;
  idColumn?: string;
  cwd: string;
  /** CSV: write formula-like text cells as they are (see ./csv-cell.ts); for programs, not spreadsheets. */
  csvRaw?: boolean;
}

export interface ExportStats {
  /** Rows written: one per input row. */
  rows: number;
  /** Rows that found their result. */
  withResult: number;
  /** Rows kept without a result (`no_result`). */
  withoutResult: number;
  /** Results whose custom_id no row of the input has. */
  unmatchedResults: number;
  /** Lines of the results file that are not results lines (skipped). */
  unreadableResultLines: number;
  /** custom_ids on several results lines (the last one is used). */
  repeatedResultIds: number;
  /** Set when a CSV syntax error in the input stopped the export there. */
  stoppedAt: { line: number; message: string } | null;
  /** The header written: the input's columns, then the result's. */
  columns: string[];
}

export const NO_RESULT = 'no_result';

/** The export format from `--format`, else from the output file's extension. */
export function exportFormatFor(out: string, format?: string): ExportFormat | null {
  if (format === 'csv' || format === 'jsonl') return format;
  if (format !== undefined) return null;
  const ext = path.extname(out).toLowerCase();
  return ext === '.csv' ? 'csv' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : null;
}

/**
 * The result columns after the input's own: the answer's fields, then status, error, cost and
 * (with samples) agreement. A name the input already uses gets `result.` in front.
 */
export function resultColumns(inputHeader: readonly string[], fieldNames: readonly string[], hasSamples: boolean): Array<{ name: string; key: string; kind: 'field' | 'meta' }> {
  const taken = new Set(inputHeader);
  const meta = ['status', 'error', 'cost', ...(hasSamples ? ['agreement'] : [])];
  const reserved = new Set(meta);
  const columns = [
    ...fieldNames.map((key) => ({ key, kind: 'field' as const, name: taken.has(key) || reserved.has(key) ? `result.${key}` : key })),
    ...meta.map((key) => ({ key, kind: 'meta' as const, name: taken.has(key) ? `result.${key}` : key })),
  ];
  return columns;
}

function metaValue(key: string, result: ResultRecord | undefined): unknown {
  if (!result) return key === 'status' ? NO_RESULT : null;
  switch (key) {
    case 'status':
      return result.status;
    case 'error':
      return result.error;
    case 'cost':
      return result.cost;
    default:
      return result.agreement;
  }
}

export async function exportJoined(opts: ExportOptions): Promise<ExportStats> {
  const index = await readResultIndex(path.resolve(opts.cwd, opts.results));
  const joinPath = path.resolve(opts.cwd, opts.join);
  const input = /\.(jsonl|ndjson)$/i.test(joinPath) ? await openJsonlRows(joinPath, opts.idColumn, opts.cwd) : await openCsvRows(joinPath, opts.idColumn, opts.cwd);
  const columns = resultColumns(input.header, index.fieldNames, index.hasSamples);
  const outPath = path.resolve(opts.cwd, opts.out);
  await mkdir(path.dirname(outPath), { recursive: true });
  const out = createWriteStream(outPath);
  const stats: ExportStats = {
    rows: 0,
    withResult: 0,
    withoutResult: 0,
    unmatchedResults: 0,
    unreadableResultLines: index.unreadable,
    repeatedResultIds: index.repeated,
    stoppedAt: null,
    columns: [...input.header, ...columns.map((c) => c.name)],
  };
  const used = new Set<string>();
  try {
    if (opts.format === 'csv') await write(out, csvLine(stats.columns, opts.csvRaw));
    for await (const row of input.rows) {
      stats.rows++;
      const id = row.duplicateId || row.customId;
      const result = index.byId.get(id);
      if (result) {
        stats.withResult++;
        used.add(id);
      } else stats.withoutResult++;
      const values = columns.map((c) => (c.kind === 'field' ? result?.fields[c.key] : metaValue(c.key, result)));
      if (opts.format === 'csv') {
        await write(out, csvLine([...row.values, ...values], opts.csvRaw));
      } else {
        const obj: Record<string, unknown> = {};
        input.header.forEach((name, i) => (obj[name] = row.values[i] ?? null));
        columns.forEach((c, i) => (obj[c.name] = values[i] ?? null));
        await write(out, `${JSON.stringify(obj)}\n`);
      }
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  stats.stoppedAt = input.stoppedAt();
  stats.unmatchedResults = index.byId.size - used.size;
  return stats;
}

/** A CSV record: numbers and booleans as they are, everything else as text cells (neutralised unless raw). */
function csvLine(cells: readonly unknown[], raw = false): string {
  return `${cells.map((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : csvTextCell(cellText(v), raw))).join(',')}\r\n`;
}

async function write(out: WriteStream, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}
