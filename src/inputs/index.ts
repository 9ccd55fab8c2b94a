import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeSource, type ReadOutcome } from '../core/item.js';
import { DEFAULTS } from '../config/defaults.js';
import type { JobConfig } from '../config/schema.js';
import { errorCode, errorText, inputFile, rejected, type ReaderContext } from './context.js';
import { readCsv } from './csv.js';
import type { InputEncoding } from './encoding.js';
import { globFiles, isPattern, patternBase, walkFolder } from './files.js';
import { isSkippableNonImage } from './image-filter.js';
import { ImageRoots } from './image-roots.js';
import { readImageItem } from './images.js';
import { modelOf, modelProblem, sizeProblem } from './item-checks.js';
import { readJsonl } from './jsonl.js';
import { InputTally } from './tally.js';

export { renderTemplate, templateFields } from './template.js';
export { describeUnsupported, loadImageAsDataUri, sniffImageType } from './image-type.js';
export { InputTally } from './tally.js';
export { describeRunModel } from './item-checks.js';

export interface ReadOptions {
  /** Relative paths and patterns resolve against it. */
  cwd: string;
  /** Prompt template with `{{column}}` placeholders for CSV rows and JSONL prompt lines. @default DEFAULTS.prompt (`{{prompt}}`) */
  template?: string;
  /** Prompt for image-folder items; placeholders `{{path}}` (relative path, the custom_id) and `{{name}}` (file name). @default DEFAULTS.image_prompt */
  imagePrompt?: string;
  /** CSV column / JSONL field used as custom_id. */
  idColumn?: string;
  /** Largest image file accepted, in bytes. @default DEFAULTS.max_image_bytes (15 MiB) */
  maxImageBytes?: number;
  /** Folders (besides each data file's own) that image paths in CSV/JSONL files may point into. */
  imageRoots?: string[];
  /** Accept BMP, TIFF, AVIF and HEIC: the worker converts them (`resize: auto`). Default false. */
  convertImages?: boolean;
  /** Splits a CSV `image` cell into several images, e.g. `|`. */
  imageSeparator?: string;
  /** How CSV and JSONL files are decoded; in UTF-8 a line that is not valid UTF-8 is rejected. @default DEFAULTS.encoding */
  encoding?: InputEncoding;
  /**
   * The run's model, or null when it has none: then only batch request lines naming their own model
   * give items. Undefined: models are not checked (nor counted in `tally`).
   */
  runModel?: string | null;
  /** Largest request text of one item, in bytes (see item-checks.ts). @default DEFAULTS.max_item_bytes (10 MiB) */
  maxItemBytes?: number;
  /** Counts skipped files, empty files and models while reading. */
  tally?: InputTally;
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
    encoding: config.encoding,
    runModel: config.model ?? null,
    maxItemBytes: config.max_item_bytes,
  };
}

/**
 * Reads every input in order and yields one outcome per item or per piece of bad input. Each input is a file,
 * a folder (every file below it, as images) or a fast-glob pattern. Files are dispatched by extension:
 * `.csv`, `.jsonl`/`.ndjson`, anything else is an image. Nothing is read ahead: the next record is read only
 * when the consumer asks for the next outcome, so memory stays flat for inputs of any size.
 */
export async function* readInputs(inputs: string[], opts: ReadOptions): AsyncGenerator<ReadOutcome> {
  const ctx: ReaderContext = {
    cwd: path.resolve(opts.cwd),
    template: opts.template ?? DEFAULTS.prompt,
    imagePrompt: opts.imagePrompt ?? DEFAULTS.image_prompt,
    idColumn: opts.idColumn,
    maxImageBytes: opts.maxImageBytes ?? DEFAULTS.max_image_bytes,
    imageRoots: new ImageRoots(opts.imageRoots ?? [], opts.cwd),
    convertImages: opts.convertImages ?? false,
    imageSeparator: opts.imageSeparator,
    encoding: opts.encoding ?? DEFAULTS.encoding,
  };
  const tally = opts.tally ?? new InputTally();
  const maxItemBytes = opts.maxItemBytes ?? DEFAULTS.max_item_bytes;
  for (const input of inputs) {
    for await (const outcome of readInput(input, ctx, tally)) yield checkItem(outcome, opts.runModel, maxItemBytes, tally);
  }
}

/** An item that cannot be sent (no model, too big) becomes a rejected line; the others are counted per model. */
function checkItem(outcome: ReadOutcome, runModel: string | null | undefined, maxItemBytes: number, tally: InputTally): ReadOutcome {
  if (outcome.type !== 'item') return outcome;
  const { customId, source, request } = outcome.item;
  const problem = (runModel === undefined ? null : modelProblem(request, runModel)) ?? sizeProblem(request, maxItemBytes);
  if (problem !== null) return rejected(customId, source, `${describeSource(source)}: ${problem}`);
  const model = runModel === undefined ? null : modelOf(request, runModel);
  if (model !== null) tally.countModel(model);
  return outcome;
}

async function* readInput(input: string, ctx: ReaderContext, tally: InputTally): AsyncGenerator<ReadOutcome> {
  const abs = path.resolve(ctx.cwd, input);
  const kind = await pathKind(abs);

  if (kind === 'folder') {
    let found = 0;
    for await (const entry of walkFolder(abs)) {
      found++;
      if ('file' in entry) {
        // README.txt and the like sit in photo folders; they are counted, not each given a rejected line.
        if (await isSkippableNonImage(entry.file)) tally.skippedNotImages++;
        else yield await readImageItem(entry.file, abs, ctx);
      } else {
        const dir = inputFile(entry.unreadableDir, ctx.cwd).display;
        yield rejected(dir, { path: dir }, `${dir}: cannot list the folder: ${entry.reason}`);
      }
    }
    if (found === 0) yield nothingMatched(input, 'the folder has no files (names starting with a dot are skipped)');
    return;
  }
  if (kind === 'file') {
    yield* readFile(abs, path.dirname(abs), ctx, tally, { named: true });
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
  for (const file of files) yield* readFile(file, base, ctx, tally, { named: false });
}

/**
 * One matched file, by extension; `base` is what image custom_ids are relative to. A file `named` as an
 * input is always read; one matched by a glob is skipped (counted) when it is neither data nor an image.
 */
async function* readFile(abs: string, base: string, ctx: ReaderContext, tally: InputTally, how: { named: boolean }): AsyncGenerator<ReadOutcome> {
  const ext = path.extname(abs).toLowerCase();
  if (ext === '.csv') yield* warnIfEmpty(readCsv(inputFile(abs, ctx.cwd), ctx), abs, ctx, tally);
  else if (ext === '.jsonl' || ext === '.ndjson') yield* warnIfEmpty(readJsonl(inputFile(abs, ctx.cwd), ctx), abs, ctx, tally);
  else if (!how.named && (await isSkippableNonImage(abs))) tally.skippedNotImages++;
  else yield await readImageItem(abs, base, ctx);
}

/** A data file that gives nothing at all (no item, no rejected line) is reported, so it is not missed. */
async function* warnIfEmpty(outcomes: AsyncGenerator<ReadOutcome>, abs: string, ctx: ReaderContext, tally: InputTally): AsyncGenerator<ReadOutcome> {
  let count = 0;
  for await (const outcome of outcomes) {
    count++;
    yield outcome;
  }
  if (count === 0) tally.emptyFile(inputFile(abs, ctx.cwd).display);
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
