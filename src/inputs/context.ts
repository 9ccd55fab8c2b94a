import path from 'node:path';
import type { ReadOutcome, SourceRef } from '../core/item.js';
import type { InputEncoding } from './encoding.js';
import type { ImageRoots } from './image-roots.js';

/** Reader options with every default filled in; shared by all readers. */
export interface ReaderContext {
  cwd: string;
  template: string;
  imagePrompt: string;
  idColumn: string | undefined;
  maxImageBytes: number;
  /** Where image paths named in CSV/JSONL files may point, besides the file's own folder. */
  imageRoots: ImageRoots;
  /** BMP, TIFF, AVIF and HEIC files are accepted: the worker converts them (`resize: auto`). */
  convertImages: boolean;
  /** Splits a CSV `image` cell into several images. */
  imageSeparator: string | undefined;
  /** How CSV and JSONL bytes are decoded; in UTF-8, invalid lines are rejected. */
  encoding: InputEncoding;
}

/** One file to read, with the names the readers need for ids and for `SourceRef`s. */
export interface InputFile {
  abs: string;
  /** The path relative to `cwd`, with `/` separators: what `SourceRef` and messages show. */
  display: string;
  /** The bare file name, used in fallback custom_ids such as `reviews.csv:7`. */
  name: string;
}

export function inputFile(abs: string, cwd: string): InputFile {
  return { abs, display: toPosix(path.relative(cwd, abs)), name: path.basename(abs) };
}

export function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

export function rejected(customId: string, source: SourceRef, reason: string): ReadOutcome {
  return { type: 'rejected', rejection: { customId, source, reason } };
}

/** `EACCES: permission denied, open '/x'` and the like, or a plain message for other errors. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
