/**
 * A small terminal for tests: it applies what a program writes (text, newlines, carriage returns,
 * and the cursor-up/down, column and erase sequences that progress displays use) to a grid of lines,
 * so that a test can assert what a person would see. Lines are not wrapped.
 */
export class Screen {
  readonly isTTY = true;
  private lines: string[] = [''];
  private row = 0;
  private col = 0;

  constructor(readonly columns = 120, readonly rows = 40) {}

  write(chunk: string | Uint8Array): boolean {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    // eslint-disable-next-line no-control-regex -- escape sequences are what a terminal reads
    const re = /\x1b\[(\??)(\d*)([A-Za-z])|\n|\r|[^\x1b\n\r]/gu;
    for (const m of text.matchAll(re)) {
      const [token, privateMode, number, command] = m;
      if (token === '\n') this.moveTo(this.row + 1, 0);
      else if (token === '\r') this.col = 0;
      else if (command !== undefined) {
        if (privateMode) continue;
        const n = number === '' ? 1 : Number(number);
        if (command === 'A') this.moveTo(Math.max(0, this.row - n), this.col);
        else if (command === 'B') this.moveTo(this.row + n, this.col);
        else if (command === 'G') this.col = n - 1;
        else if (command === 'K') this.setLine(number === '2' ? '' : this.line().slice(0, this.col));
      } else {
        const line = this.line().padEnd(this.col);
        this.setLine(line.slice(0, this.col) + token + line.slice(this.col + 1));
        this.col++;
      }
    }
    return true;
  }

  /** The lines shown, without trailing blank ones. */
  text(): string[] {
    const shown = this.lines.map((l) => l.trimEnd());
    while (shown.length > 0 && shown[shown.length - 1] === '') shown.pop();
    return shown;
  }

  private line(): string {
    return this.lines[this.row] ?? '';
  }

  private setLine(text: string): void {
    this.lines[this.row] = text;
  }

  private moveTo(row: number, col: number): void {
    while (this.lines.length <= row) this.lines.push('');
    this.row = row;
    this.col = col;
  }
}
