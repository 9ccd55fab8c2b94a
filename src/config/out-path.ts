/**
 * The results file must not be one of the inputs: results appended to an input are read back as
 * items on the next run (or by the same run, still reading it). Comparing path strings is not enough:
 * `out` may be a symbolic or hard link to an input, or sit in a folder reached through a link. So
 * files are compared by device and inode, and folders by real path. Synchronous: it runs once, while
 * the settings are checked, on a handful of paths.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type FastGlob from 'fast-glob';
import { lazyRequire } from '../core/lazy.js';
import { isPattern, patternBase } from '../inputs/files.js';
import { isInside } from '../inputs/image-roots.js';

const fastGlob = lazyRequire<typeof FastGlob>('fast-glob');

/** Why `out` may not be used with these inputs, or null. Inputs that do not exist (yet) are skipped. */
export function outAliasProblem(out: string, inputs: readonly string[], cwd = process.cwd()): string | null {
  const outAbs = path.resolve(cwd, out);
  const outStats = statOrNull(outAbs);
  const outReal = realOrNearest(outAbs);
  for (const input of inputs) {
    const inAbs = path.resolve(cwd, input);
    if (inAbs === outAbs) return `${out} is also an input`;
    const inStats = statOrNull(inAbs);
    if (!inStats) {
      if (outStats && matchedByPattern(input, outStats, outReal, cwd)) return `${out} is matched by the input pattern ${input}: the run would read it as an input`;
      continue;
    }
    if (inStats.isDirectory()) {
      const folder = realOrNearest(inAbs);
      if (isInside(outReal, folder)) return `${out} is inside the input folder ${input}: the next run would read it as an input`;
    } else if (outStats && sameFile(outStats, inStats)) {
      return `${out} is also an input: it is the same file as ${input} (through a link)`;
    }
  }
  return null;
}

/**
 * Whether an existing `out` is one of the files the pattern matches (as the reader globs: no dot
 * files, any case). Globbed only when `out` is below the pattern's fixed folder, so that a pattern
 * over a large tree elsewhere costs nothing. A results file not yet created is not matched: the
 * run that would read it back is refused once the file exists.
 */
function matchedByPattern(input: string, outStats: Stats, outReal: string, cwd: string): boolean {
  if (!isPattern(input) || !isInside(outReal, realOrNearest(patternBase(input, cwd)))) return false;
  const matches = fastGlob().sync(input, { cwd, absolute: true, onlyFiles: true, dot: false, caseSensitiveMatch: false });
  return matches.some((m) => {
    const st = statOrNull(m);
    return st !== null && sameFile(st, outStats);
  });
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/**
 * The real path of `p`; for a path that does not exist yet, the real path of its nearest existing
 * folder with the rest appended (the results file is created later, inside a folder that may be a link).
 */
function realOrNearest(p: string): string {
  const rest: string[] = [];
  let at = p;
  for (;;) {
    try {
      return path.join(realpathSync(at), ...rest);
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return p;
      rest.unshift(path.basename(at));
      at = parent;
    }
  }
}
