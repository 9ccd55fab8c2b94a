import { realpath } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where image paths named inside input files may point: the data file's own folder, or one of the
 * allowed roots (`--image-root`, job setting `image_roots`). Without this, a CSV cell such as
 * `../../etc/passwd` or `/home/me/.ssh/id_rsa` would make a worker read that file and send it to the API.
 * Paths are compared after `realpath`, so a symbolic link inside the folder that points outside is
 * refused too. Image folders and globs given as inputs are the user's own choice and are not confined.
 */
export class ImageRoots {
  private readonly roots: Promise<string[]>;
  /** Real path of each data file's folder, looked up once (a CSV has one folder for all its rows). */
  private readonly dirs = new Map<string, Promise<string>>();

  constructor(roots: string[], cwd: string) {
    this.roots = Promise.all(roots.map((r) => realOrResolved(path.resolve(cwd, r))));
  }

  /** null when `realFile` (already resolved with realpath) may be read; else why not. */
  async check(realFile: string, dataFileDir: string): Promise<string | null> {
    let dir = this.dirs.get(dataFileDir);
    if (!dir) {
      dir = realOrResolved(dataFileDir);
      this.dirs.set(dataFileDir, dir);
    }
    const allowed = [await dir, ...(await this.roots)];
    if (allowed.some((root) => isInside(realFile, root))) return null;
    return "is outside the input file's folder and every allowed image root (add one with --image-root or image_roots)";
  }
}

/** True when `file` is `root` itself or below it. Both must be absolute and normalised. */
export function isInside(file: string, root: string): boolean {
  const rel = path.relative(root, file);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

async function realOrResolved(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return path.resolve(p);
  }
}
