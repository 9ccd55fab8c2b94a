import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import { jobIdFor, type RunKeys } from '../queue/keys.js';
import { WRITTEN_HELPERS } from '../queue/ledger.js';
import { luaCommands } from '../queue/lua-commands.js';

/**
 * After `respool retry`, an item has an old line in the results file and, once written, a new one.
 * The collector then rewrites the file without the old lines: it writes a copy next to it, fsyncs it
 * and renames it over the file, so a reader or a crash sees either the old file or the new one, never
 * a mix. Only items whose new line is written are dropped; the superseded marks are removed after the
 * rename, so a crash in between only makes the next collector do the same (harmless) rewrite again.
 */

// KEYS: ledger, superseded. Returns id, generation pairs of superseded items whose new line is
// written, or nothing while any of them still waits for its new line: one rewrite per retry, not one
// per batch of new lines (the file may be large).
const DUE_LUA = `${WRITTEN_HELPERS}
local out = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if not redis.call('HGET', KEYS[1], all[i]) and writtenfp(all[i]) then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  else
    return {}
  end
end
return out
`;

// Removes a mark only if no retry happened since it was read (a new retry raised its generation).
const DONE_LUA = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`;

interface CompactCommands {
  respoolSupersededDue(ledger: string, superseded: string): Promise<string[]>;
  respoolSupersededDone(superseded: string, ...idGen: string[]): Promise<number>;
}

function commands(redis: Redis): CompactCommands {
  return luaCommands<CompactCommands>(redis, {
    respoolSupersededDue: { keys: 2, lua: DUE_LUA },
    respoolSupersededDone: { keys: 1, lua: DONE_LUA },
  });
}

export interface DueItem {
  id: string;
  generation: string;
}

export async function supersededDue(redis: Redis, keys: RunKeys): Promise<DueItem[]> {
  const flat = await commands(redis).respoolSupersededDue(keys.ledger, keys.superseded);
  const out: DueItem[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, generation: flat[i + 1]! });
  return out;
}

export async function supersededDone(redis: Redis, keys: RunKeys, due: DueItem[]): Promise<void> {
  if (due.length > 0) await commands(redis).respoolSupersededDone(keys.superseded, ...due.flatMap((d) => [d.id, d.generation]));
}

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
