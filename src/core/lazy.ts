import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A CommonJS dependency loaded the first time it is used rather than at start-up, so that a command
 * pays only for what it needs: `respool run` on a JSONL file never loads the CSV parser or the glob
 * matcher. Synchronous, like the static import it replaces.
 */
export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= require(id) as T);
}
