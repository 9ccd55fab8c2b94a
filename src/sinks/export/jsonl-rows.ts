/**
 * The lines of a JSONL input as rows, with the custom_id each one got when it was read for a run
 * (the reader's own line numbering and id rules, src/inputs/jsonl.ts). The columns are every
 * top-level field of the file's objects, in the order first seen, so the file is read twice: once
 * for the columns, once for the rows. A line that is not a JSON object is a row of empty values.
 */
import { describeSource } from '../../core/item.js';
import { inputFile } from '../../inputs/context.js';
import { jsonlLines, jsonlRowId } from '../../inputs/jsonl.js';
import type { InputRow, InputTable } from './input-table.js';

export async function openJsonlRows(file: string, idColumn: string | undefined, cwd: string): Promise<InputTable> {
  const input = inputFile(file, cwd);
  const header: string[] = [];
  const known = new Set<string>();
  for await (const { text, line } of jsonlLines(input.abs)) {
    if (text.trim() === '') continue;
    const { value } = jsonlRowId(text, input.name, line, idColumn);
    for (const key of Object.keys(value ?? {})) {
      if (!known.has(key)) {
        known.add(key);
        header.push(key);
      }
    }
  }
  async function* rows(): AsyncGenerator<InputRow> {
    const seen = new Set<string>();
    for await (const { text, line } of jsonlLines(input.abs)) {
      if (text.trim() === '') continue;
      const { customId, value } = jsonlRowId(text, input.name, line, idColumn);
      const duplicateId = seen.has(customId) ? describeSource({ file: input.display, line }) : '';
      seen.add(customId);
      yield { values: header.map((key) => (value && key in value ? value[key] : null)), customId, duplicateId };
    }
  }
  return { header, rows: rows(), stoppedAt: () => null };
}
