import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type FastGlob from 'fast-glob';
import { lazyRequire } from '../core/lazy.js';
import { errorText } from './context.js';

const fastGlob = lazyRequire<typeof FastGlob>('fast-glob');
/** Every glob pattern has one of these; a path without them is not one (and needs no fast-glob to say so). */
const GLOB_SYNTAX = /[\\*?![({]/;

/** A file found under a folder, or a folder that could not be listed (reported, not fatal). */
export type FoundEntry = { file: string } | { unreadableDir: string; reason: string };

/**
 * Every file below `root`, depth first, in name order, skipping names that start with a dot. Hand-written
 * rather than fast-glob so that a folder of any size is streamed in a deterministic order: only one
 * directory listing per level is held at a time, where sorting glob output would mean collecting all paths.
 * Symbolic links to folders are followed (each folder once per branch, so link cycles end); a broken link is
 * returned as a file so that it is reported instead of silently skipped.
 */
export async function* walkFolder(root: string): AsyncGenerator<FoundEntry> {
  yield* walk(root, new Set());
}

async function* walk(dir: string, ancestors: Set<string>): AsyncGenerator<FoundEntry> {
  let names: { name: string; isDirectory: boolean; isSymbolicLink: boolean }[];
  let key: string;
  try {
    const info = await stat(dir);
    key = `${info.dev}:${info.ino}`;
    if (ancestors.has(key)) return;
    const dirents = await readdir(dir, { withFileTypes: true });
    names = dirents
      .filter((d) => !d.name.startsWith('.'))
      .map((d) => ({ name: d.name, isDirectory: d.isDirectory(), isSymbolicLink: d.isSymbolicLink() }))
      .sort((a, b) => compareStrings(a.name, b.name));
  } catch (err) {
    yield { unreadableDir: dir, reason: errorText(err) };
    return;
  }
  ancestors.add(key);
  try {
    for (const entry of names) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory || (entry.isSymbolicLink && (await isDirectory(full)))) yield* walk(full, ancestors);
      else yield { file: full };
    }
  } finally {
    ancestors.delete(key);
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The absolute paths of the files a fast-glob pattern matches, sorted like `walkFolder` orders them.
 * Sorting needs the whole list, so this holds every matched path (never any file content) in memory.
 */
export async function globFiles(pattern: string, cwd: string): Promise<string[]> {
  const matches = await fastGlob()(pattern, { cwd, absolute: true, onlyFiles: true, dot: false, caseSensitiveMatch: false });
  return matches.map((p) => path.resolve(p)).sort(comparePaths);
}

/** The folder a pattern's matches are relative to: its leading segments without glob syntax. */
export function patternBase(pattern: string, cwd: string): string {
  const segments = pattern.split('/');
  const fixed: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (isPattern(segment)) break;
    fixed.push(segment);
  }
  // An absolute pattern starts with an empty segment; joining it back keeps the leading slash.
  const base = fixed.length === 1 && fixed[0] === '' ? '/' : fixed.join('/');
  return path.resolve(cwd, base);
}

export function isPattern(input: string): boolean {
  return GLOB_SYNTAX.test(input) && fastGlob().isDynamicPattern(input);
}

/** Segment by segment, so `a/b.png` sorts with its folder `a` exactly as `walkFolder` yields it. */
function comparePaths(a: string, b: string): number {
  const as = a.split(path.sep);
  const bs = b.split(path.sep);
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const order = compareStrings(as[i] as string, bs[i] as string);
    if (order !== 0) return order;
  }
  return as.length - bs.length;
}

/** Code-unit order: the same on every machine, unlike `localeCompare`. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
