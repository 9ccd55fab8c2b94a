/**
 * Text files are read as bytes and cut into physical lines before decoding, so a line whose bytes are
 * not valid in the file's encoding is known by its number (and rejected by the reader) instead of being
 * silently turned into U+FFFD and sent. Every supported encoding is ASCII-compatible: CR and LF bytes are
 * line breaks in all of them, so lines are found the same way whatever the encoding.
 */

/** The `encoding` setting's values: UTF-8 (default) and single-byte Western encodings. */
export const INPUT_ENCODINGS = ['utf-8', 'latin1', 'iso-8859-1', 'windows-1252', 'iso-8859-15'] as const;
export type InputEncoding = (typeof INPUT_ENCODINGS)[number];
export const DEFAULT_ENCODING: InputEncoding = 'utf-8';

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
 * The physical lines of a byte stream, decoded one by one. Memory is bounded by the longest line.
 * `latin1` and `iso-8859-1` decode as windows-1252, as the WHATWG encoding standard (and every browser)
 * does: files labelled Latin-1 are in practice windows-1252 (€ and curly quotes at 0x80-0x9F).
 */
export async function* decodeLines(chunks: AsyncIterable<Buffer | string>, encoding: InputEncoding = DEFAULT_ENCODING): AsyncGenerator<DecodedLine> {
  const decode = lineDecoder(encoding);
  let pending: Buffer = Buffer.alloc(0);
  let line = 0;
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? toBuffer(chunk) : Buffer.concat([pending, toBuffer(chunk)]);
    let start = 0;
    for (;;) {
      const end = nextBreak(pending, start);
      if (end === -1) break;
      // A CR at the end of what has arrived may be the first half of a CRLF: wait for the next chunk.
      if (pending[end] === CR && end + 1 === pending.length) break;
      const eolLength = pending[end] === CR && pending[end + 1] === LF ? 2 : 1;
      line++;
      yield { ...decode(pending.subarray(start, end), line), line, eol: pending.toString('latin1', end, end + eolLength) };
      start = end + eolLength;
    }
    pending = pending.subarray(start);
  }
  // The last line: ends without a line break, or with a CR that was held back.
  if (pending.length > 0) {
    const endsInCr = pending[pending.length - 1] === CR;
    line++;
    yield { ...decode(endsInCr ? pending.subarray(0, -1) : pending, line), line, eol: endsInCr ? '\r' : '' };
  }
}

function lineDecoder(encoding: InputEncoding): (bytes: Buffer, line: number) => { text: string; valid: boolean } {
  if (encoding === 'iso-8859-15') {
    const decoder = new TextDecoder(encoding);
    return (bytes) => ({ text: decoder.decode(bytes), valid: true });
  }
  if (encoding !== 'utf-8') return (bytes) => ({ text: decodeWindows1252(bytes), valid: true });
  const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
  return (bytes, line) => {
    // Editors on Windows may save a BOM; it is not part of the data.
    const data = line === 1 && startsWithBom(bytes) ? bytes.subarray(UTF8_BOM.length) : bytes;
    if (isAscii(data)) return { text: data.toString('latin1'), valid: true };
    try {
      return { text: strict.decode(data), valid: true };
    } catch {
      return { text: lenient.decode(data), valid: false };
    }
  };
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

function nextBreak(bytes: Buffer, from: number): number {
  for (let i = from; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === LF || b === CR) return i;
  }
  return -1;
}

/** Most lines are plain ASCII, which needs no decoder. */
function isAscii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > 0x7f) return false;
  return true;
}

function startsWithBom(bytes: Buffer): boolean {
  return UTF8_BOM.every((b, i) => bytes[i] === b);
}

function toBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

/** Why a line was rejected when its bytes are not valid UTF-8 (the only encoding that can be invalid). */
export const INVALID_UTF8_REASON = 'the line is not valid UTF-8 (set `encoding`, e.g. latin1, to read such a file)';
