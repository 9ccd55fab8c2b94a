/** Streams results files line by line into a ReportAggregator (the I/O edge of `respool report`). */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { globFiles, isPattern } from '../inputs/files.js';
import type { ReportAggregator } from './aggregate.js';

/** A results file to report on is missing or not a file, or a glob matched nothing. */
export class ReportInputError extends Error {
  override name = 'ReportInputError';
}

/** Files and globs, in the order given; a glob's matches in path order. A name matching nothing is an error. */
export async function expandResultFiles(args: string[], cwd: string): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    if (isPattern(arg)) {
      const matched = await globFiles(arg, cwd);
      if (matched.length === 0) throw new ReportInputError(`nothing matched "${arg}"`);
      files.push(...matched);
      continue;
    }
    const abs = path.resolve(cwd, arg);
    const s = await stat(abs).catch(() => null);
    if (!s) throw new ReportInputError(`${arg}: no such file`);
    if (!s.isFile()) throw new ReportInputError(`${arg}: not a file`);
    files.push(abs);
  }
  // The same file named twice (a file and a glob that matches it) is read once.
  return [...new Set(files)];
}

/**
 * Reads each file line by line (one line in memory at a time). A line that is not a JSON object is
 * counted as unreadable, not fatal: a file being written may end in a partial line.
 */
export async function readResults(files: string[], agg: ReportAggregator, cwd = process.cwd()): Promise<void> {
  for (const file of files) {
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    const display = path.relative(cwd, file) || file;
    let n = 0;
    for await (const text of rl) {
      n++;
      if (text.length === 0) continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        value = undefined;
      }
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) agg.add(value as Record<string, unknown>, `${display}:${n}`);
      else agg.addUnreadable(`${display}:${n}`);
    }
  }
}
