/**
 * Turns a line's `parsed` answer into columns, and column values into CSV cells. Pure.
 *
 * - Nested objects become dotted names: `{"address": {"city": "Paris"}}` gives `address.city`.
 * - Lists stay one value: in CSV a list of strings, numbers or booleans is joined with `|`
 *   (`billing|shipping`), any other list is JSON; in JSONL it stays a list.
 * - An answer that is not an object (a bare string or list) is one column, `answer`.
 */
export type Flat = Record<string, unknown>;

export const BARE_ANSWER_COLUMN = 'answer';

export function flattenParsed(parsed: unknown): Flat {
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return { [BARE_ANSWER_COLUMN]: parsed };
  const out: Flat = {};
  walk(parsed as Record<string, unknown>, '', out);
  return out;
}

function walk(obj: Record<string, unknown>, prefix: string, out: Flat): void {
  for (const [key, value] of Object.entries(obj)) {
    const name = `${prefix}${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
      walk(value as Record<string, unknown>, `${name}.`, out);
    } else out[name] = value;
  }
}

/** The text of one CSV cell (before quoting). */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) return value.join('|');
  return JSON.stringify(value);
}

/** RFC 4180: quoted when it holds a comma, a quote or a line break; quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: readonly string[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
