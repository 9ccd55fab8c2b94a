import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { globFiles, isPattern, walkFolder } from './files.js';
import { isSkippableNonImage } from './image-filter.js';
import { itemsFromLines, NonBlankLineCounter } from './line-count.js';

/**
 * About how many items the inputs hold, counted ahead of the reader so that progress has a total
 * early: the non-blank lines of CSV (less the header) and JSONL files, one item per other file of a
 * folder or pattern. An estimate (a CSV field may span lines; duplicates and bad rows still end as
 * lines of their own): the ledger's count replaces it once the reader is done. Reads each file once
 * more, without parsing it; null when stopped.
 */
export async function countInputItems(inputs: string[], cwd: string, signal?: AbortSignal): Promise<number | null> {
  let items = 0;
  for (const input of inputs) {
    for await (const file of inputFiles(input, cwd)) {
      if (signal?.aborted) return null;
      items += await itemsOf(file, signal);
    }
  }
  return signal?.aborted ? null : items;
}

/** How the reader takes a file: every file of a folder as an image, a named file or a pattern's match by its extension. */
interface InputFile {
  path: string;
  how: 'in-folder' | 'named' | 'matched';
}

/** The files an input names; something that cannot be read counts as one (it ends as a rejected line). */
async function* inputFiles(input: string, cwd: string): AsyncGenerator<InputFile> {
  const abs = path.resolve(cwd, input);
  const isFolder = await stat(abs).then((s) => s.isDirectory(), () => null);
  if (isFolder === true) {
    for await (const entry of walkFolder(abs)) yield 'file' in entry ? { path: entry.file, how: 'in-folder' } : { path: entry.unreadableDir, how: 'named' };
  } else if (isFolder === false || !isPattern(input)) yield { path: abs, how: 'named' };
  else for (const match of await globFiles(input, cwd).catch(() => [input])) yield { path: match, how: 'matched' };
}

async function itemsOf(file: InputFile, signal?: AbortSignal): Promise<number> {
  // The reader skips files of a walk or a pattern that are not images by name nor content, without a line.
  if (file.how === 'in-folder') return (await isSkippableNonImage(file.path)) ? 0 : 1;
  const ext = path.extname(file.path).toLowerCase();
  if (ext !== '.csv' && ext !== '.jsonl' && ext !== '.ndjson') return file.how === 'matched' && (await isSkippableNonImage(file.path)) ? 0 : 1;
  const counter = new NonBlankLineCounter();
  try {
    for await (const chunk of createReadStream(file.path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) })) counter.add(chunk as Buffer);
  } catch {
    // Unreadable (the reader turns it into one rejected line), or stopped: keep what was counted.
    if (counter.count() === 0) return 1;
  }
  return itemsFromLines(ext, counter.count());
}
