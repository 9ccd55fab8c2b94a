import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/**
 * The results file, opened by the one process that writes it. Lines are appended in batches with one
 * write and an fdatasync, so a batch is either on disk or (after a crash) cut back by the collector.
 */
export class ResultsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private size: number,
  ) {}

  static async open(file: string): Promise<ResultsFile> {
    const abs = path.resolve(file);
    await mkdir(path.dirname(abs), { recursive: true });
    const handle = await open(abs, 'a+');
    const { size } = await handle.stat();
    return new ResultsFile(abs, handle, size);
  }

  get bytes(): number {
    return this.size;
  }

  /** Cuts the file back to `offset` (used to undo a batch that was not recorded as written). */
  async truncate(offset: number): Promise<void> {
    await this.handle.truncate(offset);
    await this.handle.datasync();
    this.size = offset;
  }

  /**
   * A last line without its newline can only come from a write cut short. Such a line never counts
   * as written, so dropping it loses nothing: its item is still in Redis.
   */
  async dropTornTail(): Promise<number> {
    if (this.size === 0) return 0;
    const chunk = 64 * 1024;
    let end = this.size;
    while (end > 0) {
      const start = Math.max(0, end - chunk);
      const buf = Buffer.alloc(end - start);
      await this.handle.read(buf, 0, buf.length, start);
      if (end === this.size && buf[buf.length - 1] === 0x0a) return 0;
      const nl = buf.lastIndexOf(0x0a);
      if (nl >= 0) {
        const keep = start + nl + 1;
        const dropped = this.size - keep;
        await this.truncate(keep);
        return dropped;
      }
      end = start;
    }
    const dropped = this.size;
    await this.truncate(0);
    return dropped;
  }

  async append(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const buf = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
    let written = 0;
    while (written < buf.length) {
      const { bytesWritten } = await this.handle.write(buf, written, buf.length - written);
      written += bytesWritten;
    }
    await this.handle.datasync();
    this.size += buf.length;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
