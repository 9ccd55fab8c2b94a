import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { jobIdFor } from '../queue/keys.js';

/**
 * After `respool retry`, an item has an old line in the results file and, once written, a new one.
 * The collector then rewrites the file without the old lines: it writes a copy next to it, fsyncs it
 * and renames it over the file, so a reader or a crash sees either the old file or the new one, never
 * a mix. Only items whose new line is written are dropped; the superseded marks are removed after the
 * rename, so a crash in between only makes the next collector do the same (harmless) rewrite again.
 * Which items are due, and their marks, are the ledger's (`RunLedger.supersededDue`, `supersededDone`).
 */

export function compactTempPath(file: string): string {
  return `${file}.respool-rewrite`;
}

/** A copy left by a collector that died while rewriting: the file itself is intact, so it goes. */
export async function removeStaleCopy(file: string): Promise<void> {
  await rm(compactTempPath(file), { force: true });
}

/**
 * Rewrites `file` keeping, for each item in `ids`, only its last line. Lines are matched to items by
 * the job id of their custom_id, as the producer names jobs. Returns how many lines were dropped.
 */
export async function compactResults(file: string, run: string, ids: Set<string>): Promise<number> {
  const last = new Map<string, number>();
  await eachLine(file, (line, index) => {
    const id = idOf(line, run);
    if (id !== null && ids.has(id)) last.set(id, index);
  });
  const tmp = compactTempPath(file);
  const out = await open(tmp, 'w');
  let dropped = 0;
  try {
    let buffer: string[] = [];
    let size = 0;
    const flush = async () => {
      if (buffer.length === 0) return;
      await out.write(buffer.join(''));
      buffer = [];
      size = 0;
    };
    await eachLine(file, async (line, index) => {
      const id = idOf(line, run);
      if (id !== null && ids.has(id) && last.get(id) !== index) {
        dropped++;
        return;
      }
      buffer.push(`${line}\n`);
      size += line.length;
      if (size > 1 << 20) await flush();
    });
    await flush();
    await out.sync();
  } finally {
    await out.close();
  }
  await rename(tmp, file);
  // The rename itself must reach the disk too.
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return dropped;
}

async function eachLine(file: string, fn: (line: string, index: number) => void | Promise<void>): Promise<void> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let index = 0;
  for await (const line of rl) {
    if (line.length === 0) continue;
    await fn(line, index++);
  }
}

function idOf(line: string, run: string): string | null {
  try {
    const parsed = JSON.parse(line) as { custom_id?: unknown };
    return typeof parsed.custom_id === 'string' ? jobIdFor(run, parsed.custom_id) : null;
  } catch {
    return null;
  }
}
