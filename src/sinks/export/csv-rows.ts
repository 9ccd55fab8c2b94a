/**
 * The rows of a CSV input with the custom_id each one got when it was read for a run. The parser
 * settings, the line numbers and the id rules are the CSV reader's own (src/inputs/csv.ts), so a
 * row here has exactly the id its results line has.
 */
import { createReadStream } from 'node:fs';
import type { Info } from 'csv-parse';
import { describeSource } from '../../core/item.js';
import { inputFile } from '../../inputs/context.js';
import { checkHeader, csvParser, LineTracker, rowCustomId } from '../../inputs/csv.js';

import { InputTableError, type InputRow, type InputTable } from './input-table.js';

export async function openCsvRows(file: string, idColumn: string | undefined, cwd: string): Promise<InputTable> {
  const input = inputFile(file, cwd);
  const stream = createReadStream(input.abs);
  let parseError: { message: string; recordsBefore: number; emptyLines: number } | undefined;
  const parser = csvParser((err) => {
    parseError ??= { message: err.message, recordsBefore: parser.info.records, emptyLines: parser.info.empty_lines };
  });
  stream.on('error', (err) => parser.destroy(err));
  stream.pipe(parser);
  const records = (parser as AsyncIterable<{ record: string[]; info: Info }>)[Symbol.asyncIterator]();
  const lines = new LineTracker();
  let consumed = 0;
  let stopped: { line: number; message: string } | null = null;

  const next = async (): Promise<{ record: string[]; line: number } | null> => {
    const r = await records.next();
    if (r.done || (parseError && consumed >= parseError.recordsBefore)) {
      if (parseError) stopped = { line: lines.peek(parseError.emptyLines), message: parseError.message };
      return null;
    }
    consumed++;
    return { record: r.value.record, line: lines.next(r.value.record, r.value.info.empty_lines) };
  };

  const first = await next();
  if (!first) {
    stream.destroy();
    throw new InputTableError(`${input.display}: no header row`);
  }
  const check = checkHeader(first.record, idColumn);
  if (!check.ok) {
    stream.destroy();
    throw new InputTableError(`${input.display}:${first.line}: ${check.reason}`);
  }
  const header = first.record;
  async function* rows(): AsyncGenerator<InputRow> {
    const seen = new Set<string>();
    try {
      for (let r = await next(); r; r = await next()) {
        const { customId } = rowCustomId(r.record, header, check.ok ? check.idColumn : undefined, input.name, r.line);
        const duplicateId = seen.has(customId) ? describeSource({ file: input.display, line: r.line }) : '';
        seen.add(customId);
        // A row the reader rejected for its number of fields still gets one value per column.
        yield { values: header.map((_, i) => r.record[i] ?? ''), customId, duplicateId };
      }
    } finally {
      stream.destroy();
      parser.destroy();
    }
  }
  return { header, rows: rows(), stoppedAt: () => stopped };
}
