import type { Redis } from 'ioredis';

/**
 * Defines Lua scripts as commands on a connection once (ioredis sends EVALSHA and falls back to EVAL
 * after a Redis restart) and returns the connection typed with them.
 */
export function luaCommands<T>(redis: Redis, scripts: Record<keyof T & string, { keys: number; lua: string }>): Redis & T {
  const r = redis as Redis & Partial<T>;
  for (const [name, { keys, lua }] of Object.entries(scripts) as Array<[string, { keys: number; lua: string }]>) {
    if (!(name in r)) redis.defineCommand(name, { numberOfKeys: keys, lua });
  }
  return r as Redis & T;
}
