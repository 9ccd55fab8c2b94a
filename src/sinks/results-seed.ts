import { createReadStream } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { jobIdFor } from '../queue/keys.js';
import type { FileItem, RunLedger } from '../queue/ledger.js';

/**
 * The results file is the record of what a run has done. Redis keeps a ledger of it for speed; when
 * the ledger does not know the file (the run was cleaned, Redis lost its data, the file came from
 * another machine), the file is read back into it before any item is queued or called, so that no
 * item with a line is paid or written again.
 *
 * Whether the file was read is the run's `RunStore.resultsState()`: read, `fresh` (the run was started
 * over: the collector moves the old file aside instead), or unread (a new run, a cleaned one, or a
 * Redis that lost its data: the meta is gone with the rest).
 */

export interface ReadBack {
  /** Lines in the file. */
  lines: number;
  /** Lines of this run (others, and lines that are not JSON, are left alone). */
  ofRun: number;
  /** Items the ledger did not know as written: now they are. */
  found: number;
  /** Items with more than one line: the collector keeps only the last. */
  repeated: number;
}

const BATCH = 1000;
const BATCHES_IN_FLIGHT = 3;

/** Reads `file` (if it exists) into the run's ledger; streamed, one Lua call per 1,000 lines of the run. */
export async function readResultsIntoLedger(ledger: RunLedger, run: string, file: string): Promise<ReadBack> {
  const out: ReadBack = { lines: 0, ofRun: 0, found: 0, repeated: 0 };
  // Only a regular file holds lines to read back: a device or a FIFO at `out` (/dev/full, a pipe) would never end.
  if (!(await isRegularFile(file))) return out;
  // Items seen so far, by 52 bits of the job id: a rare false "repeated" only makes the collector
  // keep the last line of an item that has one line anyway.
  const seen = new Set<number>();
  let batch: FileItem[] = [];
  const inFlight = new Set<Promise<void>>();
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  for await (const text of rl) {
    if (text.length === 0) continue;
    out.lines++;
    const item = itemOfLine(text, run);
    if (!item) continue;
    out.ofRun++;
    const key = Number.parseInt(item.id.slice(1, 14), 16);
    if (seen.has(key)) {
      item.repeated = true;
      out.repeated++;
    } else seen.add(key);
    batch.push(item);
    if (batch.length >= BATCH) {
      await send(batch);
      batch = [];
    }
  }
  await send(batch);
  await Promise.all(inFlight);
  return out;

  // A few batches on their way while the next lines are read: reading and Redis overlap.
  async function send(items: FileItem[]): Promise<void> {
    while (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
    const p: Promise<void> = ledger.seedWritten(items).then((n) => {
      out.found += n;
      inFlight.delete(p);
    });
    // Awaited by the next send or at the end; this only keeps a failure meanwhile from counting as unhandled.
    p.catch(() => {});
    inFlight.add(p);
  }
}

/**
 * The item a results line is for, when it is a line of `run`: a respool line names its run, custom_id
 * and source; a provider batch line (`output_format: openai-batch`) its custom_id and an `id` made
 * from the run's job id, and no source. Pure.
 */
export function itemOfLine(text: string, run: string): FileItem | null {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return null; // a torn last line (the collector cuts it) or a line that is not respool's
  }
  if (typeof line !== 'object' || line === null) return null;
  const l = line as { custom_id?: unknown; run?: unknown; source?: unknown; status?: unknown; id?: unknown; response?: unknown };
  if (typeof l.custom_id !== 'string') return null;
  const id = jobIdFor(run, l.custom_id);
  if (typeof l.id === 'string' && 'response' in l) {
    if (l.id !== `batch_req_${id.slice(1)}`) return null;
    return { id, base: null, status: batchStatus(l as { response?: { status_code?: unknown } | null; error?: unknown }), repeated: false };
  }
  if (l.run !== run || typeof l.status !== 'string') return null;
  return { id, base: sourceBase(l.source), status: l.status, repeated: false };
}

/** `reviews.csv:7` for `{file: "data/reviews.csv", line: 7}`, `cat.png` for `{path: "img/cat.png"}`. */
export function sourceBase(source: unknown): string | null {
  if (typeof source !== 'object' || source === null) return null;
  const s = source as { file?: unknown; line?: unknown; path?: unknown };
  if (typeof s.file === 'string' && typeof s.line === 'number') return `${lastPart(s.file)}:${s.line}`;
  if (typeof s.path === 'string') return lastPart(s.path);
  return null;
}

function lastPart(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

/** A batch line's status for `status` counts: what respool wrote it from is not in the line. */
function batchStatus(l: { response?: { status_code?: unknown } | null; error?: unknown }): string {
  return l.response?.status_code === 200 && !l.error ? 'completed' : 'failed';
}

/** Moves an earlier results file aside (`<file>.<UTC time>.bak`) and returns its new name, or null when there is none. */
export async function moveAside(file: string, now = new Date()): Promise<string | null> {
  if (!(await exists(file))) return null;
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const to = `${file}.${stamp}.bak`;
  await rename(file, to);
  return to;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function isRegularFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
