import { isUtf8 } from 'node:buffer';
import { DEFAULTS } from '../config/defaults.js';

/**
 * Text files are read as bytes and cut into physical lines before decoding, so a line whose bytes are
 * not valid in the file's encoding is known by its number (and rejected by the reader) instead of being
 * silently turned into U+FFFD and sent. Every supported encoding is ASCII-compatible: CR and LF bytes are
 * line breaks in all of them, so lines are found the same way whatever the encoding.
 */

/** The `encoding` setting's values: UTF-8 (default) and single-byte Western encodings. */
export const INPUT_ENCODINGS = ['utf-8', 'latin1', 'iso-8859-1', 'windows-1252', 'iso-8859-15'] as const;
export type InputEncoding = (typeof INPUT_ENCODINGS)[number];

export interface DecodedLine {
  /** The line's text without its line break; a UTF-8 BOM at the start of the file is removed. */
  text: string;
  /** 1-based physical line number. */
  line: number;
  /** The line break that ended it (`\n`, `\r\n`, `\r`), or `` for a last line without one. */
  eol: string;
  /** False when its bytes are not valid in the encoding; `text` then has U+FFFD where they were. */
  valid: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * The physical lines of a byte stream, decoded. Memory is bounded by the chunk size plus the longest
 * line. Whole runs of complete lines are decoded at once (one native check that they are valid UTF-8,
 * one decode); only a run that holds invalid bytes is decoded line by line, to find which lines.
 * `latin1` and `iso-8859-1` decode as windows-1252, as the WHATWG encoding standard (and every browser)
 * does: files labelled Latin-1 are in practice windows-1252 (€ and curly quotes at 0x80-0x9F).
 */
export async function* decodeLines(chunks: AsyncIterable<Buffer | string>, encoding: InputEncoding = DEFAULTS.encoding): AsyncGenerator<DecodedLine> {
  for await (const lines of decodeLineBatches(chunks, encoding)) yield* lines;
}

/** `decodeLines` a chunk's worth of lines at a time: one await per chunk instead of one per line. */
export async function* decodeLineBatches(chunks: AsyncIterable<Buffer | string>, encoding: InputEncoding = DEFAULTS.encoding): AsyncGenerator<DecodedLine[]> {
  const decoder = blockDecoder(encoding);
  let pending: Buffer = Buffer.alloc(0);
  let line = 0;
  let first = true;
  const numbered = (lines: Line[]): DecodedLine[] => lines.map((l) => ({ text: l.text, eol: l.eol, valid: l.valid, line: ++line }));
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? toBuffer(chunk) : Buffer.concat([pending, toBuffer(chunk)]);
    if (first && pending.length < UTF8_BOM.length) continue;
    const cut = endOfCompleteLines(pending);
    if (cut === 0) continue;
    yield numbered(decoder(pending.subarray(0, cut), first));
    first = false;
    pending = pending.subarray(cut);
  }
  if (pending.length > 0) yield numbered(decoder(pending, first));
}

/**
 * Where the complete lines in `bytes` end: after its last line break, unless that is a CR at the very
 * end, which may be the first half of a CRLF still to come; 0 when there is no complete line.
 */
function endOfCompleteLines(bytes: Buffer): number {
  let end = Math.max(bytes.lastIndexOf(LF), bytes.lastIndexOf(CR));
  if (end === bytes.length - 1 && bytes[end] === CR) end = Math.max(bytes.lastIndexOf(LF, end - 1), bytes.lastIndexOf(CR, end - 1));
  return end + 1;
}

type Line = Omit<DecodedLine, 'line'>;

/** Decodes a run of lines (`atStart`: the file's first bytes, where a UTF-8 BOM is removed). */
function blockDecoder(encoding: InputEncoding): (bytes: Buffer, atStart: boolean) => Line[] {
  if (encoding === 'iso-8859-15') {
    const decoder = new TextDecoder(encoding);
    return (bytes) => splitLines(decoder.decode(bytes), true);
  }
  if (encoding !== 'utf-8') return (bytes) => splitLines(decodeWindows1252(bytes), true);
  return (bytes, atStart) => {
    // Editors on Windows may save a BOM; it is not part of the data.
    const data = atStart && startsWithBom(bytes) ? bytes.subarray(UTF8_BOM.length) : bytes;
    if (isUtf8(data)) return splitLines(data.toString('utf8'), true);
    return splitByteLines(data).map(({ bytes: lineBytes, eol }) => ({ text: lineBytes.toString('utf8'), eol, valid: isUtf8(lineBytes) }));
  };
}

/** The lines of a decoded text, each with the break that ends it (`` for a last line without one). */
function splitLines(text: string, valid: boolean): Line[] {
  const lines: Line[] = [];
  let start = 0;
  let nextLf = text.indexOf('\n');
  let nextCr = text.indexOf('\r');
  while (start < text.length) {
    if (nextLf !== -1 && nextLf < start) nextLf = text.indexOf('\n', start);
    if (nextCr !== -1 && nextCr < start) nextCr = text.indexOf('\r', start);
    const end = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
    if (end === -1) {
      lines.push({ text: text.slice(start), eol: '', valid });
      break;
    }
    const eol = text[end] === '\r' && text[end + 1] === '\n' ? '\r\n' : (text[end] as string);
    lines.push({ text: text.slice(start, end), eol, valid });
    start = end + eol.length;
  }
  return lines;
}

/** The same split on bytes, for a run that holds invalid UTF-8 (CR and LF bytes are never part of a UTF-8 sequence). */
function splitByteLines(bytes: Buffer): { bytes: Buffer; eol: string }[] {
  const lines: { bytes: Buffer; eol: string }[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== LF && b !== CR) continue;
    const eolLength = b === CR && bytes[i + 1] === LF ? 2 : 1;
    lines.push({ bytes: bytes.subarray(start, i), eol: bytes.toString('latin1', i, i + eolLength) });
    start = i + eolLength;
    i += eolLength - 1;
  }
  if (start < bytes.length) lines.push({ bytes: bytes.subarray(start), eol: '' });
  return lines;
}

/**
 * What windows-1252 has at 0x80-0x9F, where ISO-8859-1 has control characters; 0x81, 0x8D, 0x8F, 0x90
 * and 0x9D are unassigned and stay as they are. Node's own TextDecoder decodes this range as ISO-8859-1.
 */
const WINDOWS_1252_HIGH = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8DŽ\x8F\x90‘’“”•–—˜™š›œ\x9DžŸ';

function decodeWindows1252(bytes: Buffer): string {
  const latin1 = bytes.toString('latin1');
  return /[\x80-\x9f]/.test(latin1) ? latin1.replace(/[\x80-\x9f]/g, (c) => WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80] as string) : latin1;
}

function startsWithBom(bytes: Buffer): boolean {
  return UTF8_BOM.every((b, i) => bytes[i] === b);
}

function toBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

/** Why a line was rejected when its bytes are not valid UTF-8 (the only encoding that can be invalid). */
export const INVALID_UTF8_REASON = 'the line is not valid UTF-8 (set `encoding`, e.g. latin1, to read such a file)';
