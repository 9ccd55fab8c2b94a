import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { globFiles, isPattern, walkFolder } from './files.js';
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

/** The files an input names; something that cannot be read counts as one (it ends as a rejected line). */
async function* inputFiles(input: string, cwd: string): AsyncGenerator<string> {
  const abs = path.resolve(cwd, input);
  const isFolder = await stat(abs).then((s) => s.isDirectory(), () => null);
  if (isFolder === true) {
    for await (const entry of walkFolder(abs)) yield 'file' in entry ? entry.file : entry.unreadableDir;
  } else if (isFolder === false || !isPattern(input)) yield abs;
  else yield* await globFiles(input, cwd).catch(() => [input]);
}

async function itemsOf(file: string, signal?: AbortSignal): Promise<number> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.csv' && ext !== '.jsonl' && ext !== '.ndjson') return 1;
  const counter = new NonBlankLineCounter();
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) })) counter.add(chunk as Buffer);
  } catch {
    // Unreadable (the reader turns it into one rejected line), or stopped: keep what was counted.
    if (counter.count() === 0) return 1;
  }
  return itemsFromLines(ext, counter.count());
}
