import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * respool's Lua scripts, one per file in `src/queue/commands/` (as BullMQ keeps its own), each opening
 * with a `--[[ ... ]]` header that states its KEYS, ARGV and what it returns. The number of keys a
 * command takes is read from that header (its `KEYS[n]` lines), so the header cannot drift from the
 * call. A line `--- @include "includes/<name>"` pulls in shared helpers (once per script), and
 * `{{NAME}}` stands for a constant the TypeScript side passes in, so a number lives in one place.
 *
 * The folder sits next to this module: `src/queue/commands/` under tsx, `dist/queue/commands/` once
 * built (`npm run build` copies the `.lua` files there; tsc does not).
 */
const COMMANDS_DIR = new URL('./commands/', import.meta.url);

export type LuaConstants = Readonly<Record<string, string | number>>;

/** A command as it is defined on a connection: `file` is its name in `src/queue/commands/`, without `.lua`. */
export interface LuaCommandSpec {
  file: string;
  constants?: LuaConstants;
}

export interface LoadedScript {
  lua: string;
  /** How many KEYS it takes, from its header. */
  keys: number;
}

const sources = new Map<string, string>();

/** The text of `commands/<name>.lua`, read from disk once per process. */
function readSource(name: string): string {
  let text = sources.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`${name}.lua`, COMMANDS_DIR), 'utf8');
    sources.set(name, text);
  }
  return text;
}

const INCLUDE = /^--- @include "([\w/-]+)"[ \t]*$/gm;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** The script with its includes expanded (each at most once, nested ones too). */
function expandIncludes(name: string, seen: Set<string>): string {
  return readSource(name).replace(INCLUDE, (_, include: string) => {
    if (seen.has(include)) return '';
    seen.add(include);
    return expandIncludes(include, seen);
  });
}

/** The `--[[ ... ]]` block the file opens with; every command script has one. */
export function headerOf(text: string): string | null {
  const m = /^--\[\[([\s\S]*?)\]\]/.exec(text);
  return m ? m[1]! : null;
}

/** The number of keys a header declares: its `KEYS[1]` ... `KEYS[n]` lines, which must run 1..n without a gap. */
export function declaredKeyCount(header: string): number {
  const indexes = [...header.matchAll(/^\s*KEYS\[(\d+)\]/gm)].map((m) => Number(m[1]));
  indexes.forEach((n, i) => {
    if (n !== i + 1) throw new Error(`Lua header declares KEYS[${n}] where KEYS[${i + 1}] was expected`);
  });
  return indexes.length;
}

/**
 * Reads `commands/<name>.lua`, expands its includes and constants, and reads its key count from its
 * header. Throws on a missing header, a constant not passed in, or one passed in that it never uses.
 */
export function loadLuaScript(name: string, constants: LuaConstants = {}): LoadedScript {
  const source = readSource(name);
  const header = headerOf(source);
  if (header === null || !/\bOutput:/.test(header)) throw new Error(`Lua script ${name}.lua has no header stating its KEYS, ARGV and Output`);
  const used = new Set<string>();
  const lua = expandIncludes(name, new Set()).replace(PLACEHOLDER, (_, constant: string) => {
    const value = constants[constant];
    if (value === undefined) throw new Error(`Lua script ${name}.lua uses {{${constant}}}, which is not passed in`);
    used.add(constant);
    return String(value);
  });
  const unused = Object.keys(constants).filter((c) => !used.has(c));
  if (unused.length > 0) throw new Error(`Lua script ${name}.lua does not use the constant(s) ${unused.join(', ')}`);
  return { lua, keys: declaredKeyCount(header) };
}

/**
 * Defines scripts as commands on a connection once (ioredis sends EVALSHA and falls back to EVAL after
 * a Redis restart) and returns the connection typed with them. Cheap to call on every use: a command
 * already defined on the connection is not loaded again.
 */
export function luaCommands<T>(redis: Redis, specs: Readonly<Record<keyof T & string, LuaCommandSpec>>): Redis & T {
  const r = redis as Redis & Partial<T>;
  for (const [name, spec] of Object.entries(specs) as Array<[string, LuaCommandSpec]>) {
    if (name in r) continue;
    const { lua, keys } = loadLuaScript(spec.file, spec.constants);
    redis.defineCommand(name, { numberOfKeys: keys, lua });
  }
  return r as Redis & T;
}
