/** The fake server's `/files`: uploaded batch input files and the output and error files of batches, in memory. */
import type { ProviderFile } from '../batch/types.js';

export interface StoredFile {
  file: ProviderFile;
  content: Buffer;
}

export class FileStore {
  private readonly files = new Map<string, StoredFile>();

  constructor(private readonly newId: (prefix: string) => string) {}

  add(content: Buffer, filename: string, purpose: string, nowMs: number): ProviderFile {
    const file: ProviderFile = {
      id: this.newId('file-'),
      object: 'file',
      bytes: content.length,
      created_at: Math.floor(nowMs / 1000),
      filename,
      purpose,
      expires_at: null,
    };
    this.files.set(file.id, { file, content });
    return file;
  }

  get(id: string): StoredFile | undefined {
    return this.files.get(id);
  }

  delete(id: string): boolean {
    return this.files.delete(id);
  }

  get size(): number {
    return this.files.size;
  }
}
