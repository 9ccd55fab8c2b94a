/**
 * Counts the lines of a file that hold something other than blanks, fed chunk by chunk: how many
 * records a JSONL file has (its reader skips blank lines), or a CSV file has with its header (its
 * reader skips empty lines). Pure; a line split across two chunks is counted once.
 */
export class NonBlankLineCounter {
  private lines = 0;
  private lineHasText = false;

  add(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === NEWLINE) {
        if (this.lineHasText) this.lines++;
        this.lineHasText = false;
      } else if (!this.lineHasText && !BLANKS.has(byte)) this.lineHasText = true;
    }
  }

  /** Lines so far, the last one counted even without a final newline. */
  count(): number {
    return this.lines + (this.lineHasText ? 1 : 0);
  }
}

const NEWLINE = 0x0a;
/** Space, tab, carriage return. */
const BLANKS = new Set([0x20, 0x09, 0x0d]);

/** Items a file of this extension holds, from its non-blank lines: CSV has a header line. */
export function itemsFromLines(ext: string, nonBlankLines: number): number {
  return ext === '.csv' ? Math.max(0, nonBlankLines - 1) : nonBlankLines;
}
