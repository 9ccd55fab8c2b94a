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
    return ResultsFile.openUnnamed(file).catch((err: unknown) => {
      throw writeFailure(path.resolve(file), err);
    });
  }

  private static async openUnnamed(file: string): Promise<ResultsFile> {
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
    await this.truncateUnnamed(offset).catch((err: unknown) => {
      throw writeFailure(this.path, err);
    });
  }

  private async truncateUnnamed(offset: number): Promise<void> {
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
    await this.appendUnnamed(lines).catch((err: unknown) => {
      throw writeFailure(this.path, err);
    });
  }

  private async appendUnnamed(lines: string[]): Promise<void> {
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

/**
 * A write error of the results file, naming the file (Node's errors on an open file name none) and
 * saying that nothing is lost: a batch counts as written only after its write and fdatasync succeed,
 * so its lines are still in Redis, and a part written is cut back when the collector starts again.
 */
export function writeFailure(file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const why = WRITE_ERRORS[code ?? ''] ?? (err as Error).message;
  return new Error(`cannot write the results file ${file}: ${why}${code && !why.includes(code) ? ` (${code})` : ''}. Nothing is lost: the lines not written are still in Redis; fix this and run the same command again`, { cause: err });
}

const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'the path is a folder',
  EIO: 'input/output error from the disk',
  EFBIG: 'the file is too large for the file system',
};
