/**
 * Items -> batch input files within the provider's limits (requests and bytes per file). Pure.
 *
 * Sizes are exact: a file's size is the sum of its lines' UTF-8 bytes plus one newline each, which
 * is what `BatchClient.uploadBatchFile` sends for an array of lines. Items go into files in the order
 * given; a file is closed when the next line would take it over either limit.
 */
import { BATCH_ENDPOINT, type BatchInputLine } from './types.js';

export interface PackItem {
  /** The item's job id; unique within a file (the provider refuses duplicates). */
  customId: string;
  /** The request body `online` would send. */
  body: Record<string, unknown>;
}

export interface PackLimits {
  /** Requests per file (OpenAI: 50,000). */
  maxRequests: number;
  /** Bytes per file, newlines included (OpenAI: 200 MB). */
  maxBytes: number;
}

export interface PackedFile {
  /** JSONL lines without their newline, ready for `uploadBatchFile`. */
  lines: string[];
  customIds: string[];
  /** Exact size of the file as uploaded. */
  bytes: number;
}

/** The JSONL line of one item (no newline). */
export function batchInputLine(item: PackItem): string {
  const line: BatchInputLine = { custom_id: item.customId, method: 'POST', url: BATCH_ENDPOINT, body: item.body };
  return JSON.stringify(line);
}

/** Bytes a line takes in the file: its UTF-8 bytes and the newline after it. */
export function lineBytes(line: string): number {
  return Buffer.byteLength(line, 'utf8') + 1;
}

/** An item whose line alone is over `maxBytes`: no file can hold it, so it cannot go by batch. */
export class ItemTooLargeForBatchError extends Error {
  constructor(
    readonly customId: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`item ${customId} takes ${bytes} bytes as a batch line, over the ${maxBytes} bytes a batch file may hold`);
    this.name = 'ItemTooLargeForBatchError';
  }
}

/**
 * Packs items as they come (from a queue, a stream): `add` returns the file it closed to make room,
 * if any; `finish` returns the last, partly filled file.
 */
export class BatchFilePacker {
  private current: PackedFile = emptyFile();

  constructor(private readonly limits: PackLimits) {
    if (!(Number.isInteger(limits.maxRequests) && limits.maxRequests >= 1)) throw new RangeError('maxRequests must be a positive integer');
    if (!(Number.isInteger(limits.maxBytes) && limits.maxBytes >= 2)) throw new RangeError('maxBytes must be an integer of at least 2');
  }

  /** Throws ItemTooLargeForBatchError (and keeps nothing of the item) when its line fits in no file. */
  add(item: PackItem): PackedFile | null {
    const line = batchInputLine(item);
    const bytes = lineBytes(line);
    if (bytes > this.limits.maxBytes) throw new ItemTooLargeForBatchError(item.customId, bytes, this.limits.maxBytes);
    let closed: PackedFile | null = null;
    if (this.current.lines.length >= this.limits.maxRequests || this.current.bytes + bytes > this.limits.maxBytes) {
      closed = this.current;
      this.current = emptyFile();
    }
    this.current.lines.push(line);
    this.current.customIds.push(item.customId);
    this.current.bytes += bytes;
    return closed;
  }

  finish(): PackedFile | null {
    const last = this.current;
    this.current = emptyFile();
    return last.lines.length > 0 ? last : null;
  }
}

/**
 * All items at once. Items too large for any file are returned apart, in their order, so the caller
 * can send them another way (or reject them) without losing them.
 */
export function packBatchFiles(items: Iterable<PackItem>, limits: PackLimits): { files: PackedFile[]; tooLarge: ItemTooLargeForBatchError[] } {
  const packer = new BatchFilePacker(limits);
  const files: PackedFile[] = [];
  const tooLarge: ItemTooLargeForBatchError[] = [];
  for (const item of items) {
    try {
      const closed = packer.add(item);
      if (closed) files.push(closed);
    } catch (err) {
      if (!(err instanceof ItemTooLargeForBatchError)) throw err;
      tooLarge.push(err);
    }
  }
  const last = packer.finish();
  if (last) files.push(last);
  return { files, tooLarge };
}

function emptyFile(): PackedFile {
  return { lines: [], customIds: [], bytes: 0 };
}
