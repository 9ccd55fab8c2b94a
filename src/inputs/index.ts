import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ReadOutcome } from '../core/item.js';
import type { JobConfig } from '../config/schema.js';
import { errorCode, errorText, inputFile, rejected, type ReaderContext } from './context.js';
import { readCsv } from './csv.js';
import { globFiles, isPattern, patternBase, walkFolder } from './files.js';
import { ImageRoots } from './image-roots.js';
import { readImageItem } from './images.js';
import { readJsonl } from './jsonl.js';

export { renderTemplate, templateFields } from './template.js';
export { describeUnsupported, loadImageAsDataUri, sniffImageType } from './image-type.js';

export interface ReadOptions {
  /** Relative paths and patterns resolve against it. */
  cwd: string;
  /** Prompt template with `{{column}}` placeholders for CSV rows and JSONL prompt lines; default `{{prompt}}`. */
  template?: string;
  /** Prompt for image-folder items; placeholders `{{path}}` (relative path, the custom_id) and `{{name}}` (file name). */
  imagePrompt?: string;
  /** CSV column / JSONL field used as custom_id. */
  idColumn?: string;
  /** Largest image file accepted, in bytes; default 15 MiB. */
  maxImageBytes?: number;
  /** Folders (besides each data file's own) that image paths in CSV/JSONL files may point into. */
  imageRoots?: string[];
  /** Accept BMP, TIFF, AVIF and HEIC: the worker converts them (`resize: auto`). Default false. */
  convertImages?: boolean;
  /** Splits a CSV `image` cell into several images, e.g. `|`. */
  imageSeparator?: string;
}

/** The reader settings of a job: every command that reads a job's inputs reads them the same way. */
export function readOptionsFor(config: JobConfig, cwd: string): ReadOptions {
  return {
    cwd,
    ...(config.prompt === undefined ? {} : { template: config.prompt }),
    imagePrompt: config.image_prompt,
    ...(config.id_column === undefined ? {} : { idColumn: config.id_column }),
    maxImageBytes: config.max_image_bytes,
    imageRoots: config.image_roots,
    convertImages: config.resize === 'auto',
    ...(config.image_separator === undefined ? {} : { imageSeparator: config.image_separator }),
  };
}

export const DEFAULT_TEMPLATE = '{{prompt}}';
export const DEFAULT_IMAGE_PROMPT = 'Describe this image.';
export const DEFAULT_MAX_IMAGE_BYTES = 15 * 1024 * 1024;

/**
 * Reads every input in order and yields one outcome per item or per piece of bad input. Each input is a file,
 * a folder (every file below it, as images) or a fast-glob pattern. Files are dispatched by extension:
 * `.csv`, `.jsonl`/`.ndjson`, anything else is an image. Nothing is read ahead: the next record is read only
 * when the consumer asks for the next outcome, so memory stays flat for inputs of any size.
 */
export async function* readInputs(inputs: string[], opts: ReadOptions): AsyncGenerator<ReadOutcome> {
  const ctx: ReaderContext = {
    cwd: path.resolve(opts.cwd),
    template: opts.template ?? DEFAULT_TEMPLATE,
    imagePrompt: opts.imagePrompt ?? DEFAULT_IMAGE_PROMPT,
    idColumn: opts.idColumn,
    maxImageBytes: opts.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    imageRoots: new ImageRoots(opts.imageRoots ?? [], opts.cwd),
    convertImages: opts.convertImages ?? false,
    imageSeparator: opts.imageSeparator,
  };
  for (const input of inputs) yield* readInput(input, ctx);
}

async function* readInput(input: string, ctx: ReaderContext): AsyncGenerator<ReadOutcome> {
  const abs = path.resolve(ctx.cwd, input);
  const kind = await pathKind(abs);

  if (kind === 'folder') {
    let found = 0;
    for await (const entry of walkFolder(abs)) {
      found++;
      if ('file' in entry) {
        yield await readImageItem(entry.file, abs, ctx);
      } else {
        const dir = inputFile(entry.unreadableDir, ctx.cwd).display;
        yield rejected(dir, { path: dir }, `${dir}: cannot list the folder: ${entry.reason}`);
      }
    }
    if (found === 0) yield nothingMatched(input, 'the folder has no files (names starting with a dot are skipped)');
    return;
  }
  if (kind === 'file') {
    yield* readFile(abs, path.dirname(abs), ctx);
    return;
  }
  if (kind !== 'missing') {
    yield rejected(input, { path: input }, `cannot open "${input}": ${kind.error}`);
    return;
  }
  if (!isPattern(input)) {
    yield nothingMatched(input, 'no such file or folder');
    return;
  }

  let files: string[];
  try {
    files = await globFiles(input, ctx.cwd);
  } catch (err) {
    yield rejected(input, { path: input }, `cannot search for "${input}": ${errorText(err)}`);
    return;
  }
  if (files.length === 0) {
    yield nothingMatched(input, 'the pattern matched no files (names starting with a dot are skipped)');
    return;
  }
  const base = patternBase(input, ctx.cwd);
  for (const file of files) yield* readFile(file, base, ctx);
}

/** One matched file, by extension; `base` is what image custom_ids are relative to. */
async function* readFile(abs: string, base: string, ctx: ReaderContext): AsyncGenerator<ReadOutcome> {
  const ext = path.extname(abs).toLowerCase();
  if (ext === '.csv') yield* readCsv(inputFile(abs, ctx.cwd), ctx);
  else if (ext === '.jsonl' || ext === '.ndjson') yield* readJsonl(inputFile(abs, ctx.cwd), ctx);
  else yield await readImageItem(abs, base, ctx);
}

type PathKind = 'file' | 'folder' | 'missing' | { error: string };

async function pathKind(abs: string): Promise<PathKind> {
  try {
    return (await stat(abs)).isDirectory() ? 'folder' : 'file';
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') return { error: errorText(err) };
  }
  // A broken symbolic link exists but cannot be followed: treat it as a file so the reader reports why.
  try {
    await lstat(abs);
    return 'file';
  } catch {
    return 'missing';
  }
}

function nothingMatched(input: string, why: string): ReadOutcome {
  return rejected(input, { path: input }, `nothing matched "${input}": ${why}`);
}
