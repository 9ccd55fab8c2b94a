import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Info, Parser, parse } from 'csv-parse';
import { lazyRequire } from '../core/lazy.js';
import type { ImageRef, ReadOutcome } from '../core/item.js';
import { errorText, rejected, type InputFile, type ReaderContext } from './context.js';
import { decodeLineBatches, INVALID_UTF8_REASON, type InputEncoding } from './encoding.js';
import { resolveImageValue } from './images.js';
import { renderTemplate } from './template.js';

const csvParse = lazyRequire<{ parse: typeof parse }>('csv-parse');

/** A column with this name attaches an image (a path relative to the CSV file, or an http(s) URL) to its row. */
const IMAGE_COLUMN = 'image';

/**
 * Reads a CSV file (RFC 4180, header row, UTF-8 with or without BOM, CRLF, LF or CR line endings) one record at a time; memory
 * stays flat whatever the file size because the file is piped through csv-parse and pulled record by record.
 *
 * Line numbers are physical lines of the file, header = line 1, and a record's number is the line where the
 * record starts (a quoted field with newlines spans several lines). That number is both the `SourceRef` line
 * and the `<file name>:<line>` fallback custom_id, so an id points straight at the place in an editor.
 */
export async function* readCsv(file: InputFile, ctx: ReaderContext): AsyncGenerator<ReadOutcome> {
  // Decoded here, line by line, not by csv-parse: a line that is not valid UTF-8 is noted, and its row rejected.
  const invalidLines = new Set<number>();
  const stream = Readable.from(decodedText(file.abs, ctx.encoding, invalidLines));
  // A parse error would destroy the parser and with it the records already parsed from the same chunk but not
  // yet consumed. So errors are caught with `skip_records_with_error` instead, remembering how many records
  // came before; the consumer stops the file when it reaches that point, after all good records before it.
  let parseError: ParseErrorAt | undefined;
  // Records come as arrays, not objects keyed by the header: with `columns: true`, csv-parse silently drops the
  // extra values of a too-long row, and the row's length is needed to reject it and to keep line numbers right.
  const parser = csvParser((err) => {
    parseError ??= { message: errorText(err), recordsBefore: parser.info.records, emptyLines: parser.info.empty_lines };
  });
  stream.on('error', (err) => parser.destroy(err));
  stream.pipe(parser);

  const lines = new LineTracker();
  let consumed = 0;
  let rows: RowReader | undefined;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      if (parseError && consumed >= parseError.recordsBefore) break;
      consumed++;
      const line = lines.next(record, info.empty_lines);
      const badLine = firstInvalidLine(invalidLines, line, record);
      if (rows) {
        yield badLine === null ? await rows.read(record, line) : invalidRow(file, line, badLine, rows.idOf(record, line));
        continue;
      }
      if (badLine !== null) {
        yield rejected(file.name, { file: file.display, line }, `${file.display}:${line}: the header ${INVALID_UTF8_REASON.replace('the line ', '')}; the file was not read`);
        return;
      }
      const header = checkHeader(record, ctx.idColumn);
      if (!header.ok) {
        yield rejected(file.name, { file: file.display, line }, `${file.display}:${line}: ${header.reason}; the file was not read`);
        return;
      }
      rows = new RowReader(file, ctx, record, header.idColumn);
    }
  } catch (err) {
    yield readFailure(file, err, lines.peek(parser.info.empty_lines), rows !== undefined);
    return;
  } finally {
    stream.destroy();
    parser.destroy();
  }
  if (parseError) {
    const line = lines.peek(parseError.emptyLines);
    yield rejected(`${file.name}:${line}`, { file: file.display, line }, `${file.display}:${line}: malformed CSV (${parseError.message}); the rest of this file was not read`);
  }
}

/** The file's text for csv-parse, a chunk of lines at a time; the numbers of lines that are not valid UTF-8 go to `invalidLines`. */
async function* decodedText(abs: string, encoding: InputEncoding, invalidLines: Set<number>): AsyncGenerator<string> {
  const bytes = createReadStream(abs);
  try {
    for await (const lines of decodeLineBatches(bytes, encoding)) {
      let piece = '';
      for (const l of lines) {
        if (!l.valid) invalidLines.add(l.line);
        piece += l.text + l.eol;
      }
      if (piece !== '') yield piece;
    }
  } finally {
    bytes.destroy();
  }
}

/** The first line of a record (which spans its start line and one more per line break inside it) that is not valid. */
function firstInvalidLine(invalidLines: Set<number>, start: number, record: string[]): number | null {
  if (invalidLines.size === 0) return null;
  const end = start + record.reduce((n, field) => n + countLineBreaks(field), 0);
  for (let line = start; line <= end; line++) if (invalidLines.has(line)) return line;
  return null;
}

function invalidRow(file: InputFile, line: number, badLine: number, customId: string): ReadOutcome {
  const at = badLine === line ? '' : ` (line ${badLine} of the row)`;
  return rejected(customId, { file: file.display, line }, `${file.display}:${line}: ${INVALID_UTF8_REASON}${at}`);
}

/**
 * The csv-parse settings every reading of a CSV input uses (the reader, and `respool export` when it
 * joins results back onto the rows), so that both see the same records on the same lines.
 */
export function csvParser(onSkip: (err: Error) => void): Parser {
  return csvParse().parse({
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    // Any mix of line endings, as files joined from several sources have; csv-parse would otherwise detect one
    // from the first line and fail on a record ending differently. Counted the same way by `countLineBreaks`.
    record_delimiter: ['\r\n', '\n', '\r'],
    skip_records_with_error: true,
    on_skip: (err) => {
      if (err) onSkip(err);
      return undefined;
    },
  });
}

interface ParseErrorAt {
  message: string;
  /** Records (header included) parsed successfully before the error. */
  recordsBefore: number;
  /** csv-parse's count of skipped empty lines when the error was found, to place it on the right line. */
  emptyLines: number;
}

/**
 * csv-parse's own `info.lines` counts a CRLF inside a quoted field as two lines, so start lines are derived
 * instead: a record starts after the previous one ends plus any skipped empty lines, and ends as many lines
 * later as there are line breaks inside its fields (a field can only hold a line break when it is quoted, and
 * then the break is kept verbatim in the value).
 */
export class LineTracker {
  private lastEnd = 0;
  private lastEmptyLines = 0;

  next(record: string[], emptyLinesSoFar: number): number {
    const start = this.peek(emptyLinesSoFar);
    this.lastEnd = start + record.reduce((n, field) => n + countLineBreaks(field), 0);
    this.lastEmptyLines = emptyLinesSoFar;
    return start;
  }

  /** Where the next record starts, without consuming it (used to place a parse error). */
  peek(emptyLinesSoFar: number): number {
    return this.lastEnd + 1 + (emptyLinesSoFar - this.lastEmptyLines);
  }
}

export function countLineBreaks(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) count++;
    else if (c === 0x0d) {
      count++;
      if (text.charCodeAt(i + 1) === 0x0a) i++; // CRLF is one line break
    }
  }
  return count;
}

export type HeaderCheck = { ok: true; idColumn: string | undefined } | { ok: false; reason: string };

export function checkHeader(header: string[], requestedIdColumn: string | undefined): HeaderCheck {
  const seen = new Set<string>();
  for (const name of header) {
    // Duplicate names would make `{{name}}` ambiguous; a blank name (trailing comma) is harmless.
    if (name !== '' && seen.has(name)) return { ok: false, reason: `the header names column "${name}" twice` };
    seen.add(name);
  }
  if (requestedIdColumn !== undefined) {
    if (!seen.has(requestedIdColumn)) return { ok: false, reason: `the id column "${requestedIdColumn}" is not in the header` };
    return { ok: true, idColumn: requestedIdColumn };
  }
  return { ok: true, idColumn: seen.has('custom_id') ? 'custom_id' : seen.has('id') ? 'id' : undefined };
}

/**
 * The custom_id of a data record (docs/job-file.md#custom_id): the id column's value; `<file name>:<line>`
 * without an id column, and for a row that is rejected (wrong number of fields, empty id), in which
 * case `problem` says why. `respool export` uses it too, to find each row's result.
 */
export function rowCustomId(
  record: readonly string[],
  header: readonly string[],
  idColumn: string | undefined,
  fileName: string,
  line: number,
): { customId: string; problem: string | null } {
  const fallbackId = `${fileName}:${line}`;
  if (record.length !== header.length) {
    return { customId: fallbackId, problem: `the row has ${record.length} fields but the header has ${header.length} columns` };
  }
  if (idColumn === undefined) return { customId: fallbackId, problem: null };
  const id = record[header.indexOf(idColumn)] as string;
  if (id.trim() === '') return { customId: fallbackId, problem: `the id column "${idColumn}" is empty` };
  return { customId: id, problem: null };
}

/** Turns data records into outcomes once the header is known. */
class RowReader {
  private readonly hasImageColumn: boolean;
  private readonly dir: string;

  constructor(
    private readonly file: InputFile,
    private readonly ctx: ReaderContext,
    private readonly header: string[],
    private readonly idColumn: string | undefined,
  ) {
    this.hasImageColumn = header.includes(IMAGE_COLUMN);
    this.dir = path.dirname(file.abs);
  }

  /** The row's custom_id, for a row rejected before it is read. */
  idOf(record: string[], line: number): string {
    return rowCustomId(record, this.header, this.idColumn, this.file.name, line).customId;
  }

  async read(record: string[], line: number): Promise<ReadOutcome> {
    const where = `${this.file.display}:${line}`;
    const source = { file: this.file.display, line };

    const id = rowCustomId(record, this.header, this.idColumn, this.file.name, line);
    if (id.problem !== null) return rejected(id.customId, source, `${where}: ${id.problem}`);
    const customId = id.customId;
    // A null prototype so a column called `__proto__` or `constructor` is just a column.
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    this.header.forEach((name, i) => (fields[name] = record[i] as string));

    const prompt = renderTemplate(this.ctx.template, fields);
    if (!prompt.ok) {
      return rejected(customId, source, `${where}: the template uses column(s) missing from the file: ${prompt.missing.join(', ')}`);
    }

    const images: ImageRef[] = [];
    const imageValue = this.hasImageColumn ? (fields[IMAGE_COLUMN] as string) : '';
    // With `image_separator`, one cell can name several images, e.g. `front.jpg|back.jpg`.
    const values = this.ctx.imageSeparator === undefined ? [imageValue] : imageValue.split(this.ctx.imageSeparator);
    for (const value of values.filter((v) => v.trim() !== '')) {
      const image = await resolveImageValue(value, this.dir, this.ctx.maxImageBytes, this.ctx.imageRoots, this.ctx.convertImages);
      if (!image.ok) return rejected(customId, source, `${where}: ${image.reason}`);
      images.push(image.ref);
    }
    return { type: 'item', item: { customId, source, request: { kind: 'prompt', text: prompt.text, images } } };
  }
}

/** The file could not be read (not a CSV syntax problem: those are handled through `on_skip`). */
function readFailure(file: InputFile, err: unknown, line: number, headerRead: boolean): ReadOutcome {
  if (!headerRead) return rejected(file.name, { path: file.display }, `${file.display}: cannot read the file: ${errorText(err)}`);
  return rejected(`${file.name}:${line}`, { file: file.display, line }, `${file.display}:${line}: reading failed (${errorText(err)}); the rest of this file was not read`);
}
