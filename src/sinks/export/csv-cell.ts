/**
 * CSV cells that a spreadsheet cannot run. A text cell that starts with `=`, `+`, `-`, `@`, a tab or
 * a carriage return is read as a formula by Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)`
 * from a model's answer or an API error opens as a live link). As OWASP advises for CSV injection,
 * such a cell is prefixed with a single quote and quoted, so it shows as the text it is. Pure.
 *
 * Only text is neutralised: numbers respool writes as numbers (costs, counts, agreement) stay
 * numbers, and so does text that is a plain decimal number (`-5`, `+1.5e3`, a negative amount in an
 * input column), which no spreadsheet runs. `--csv-raw` turns this off for programs that read the file.
 */
import { csvField } from './flatten.js';

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Whether a spreadsheet would read this text cell as a formula. */
export function isFormulaLike(text: string): boolean {
  return FORMULA_START.test(text) && !PLAIN_NUMBER.test(text);
}

/** One text cell, RFC 4180-quoted; formula-like text is neutralised unless `raw`. */
export function csvTextCell(text: string, raw = false): string {
  if (!raw && isFormulaLike(text)) return `"'${text.replace(/"/g, '""')}"`;
  return csvField(text);
}
