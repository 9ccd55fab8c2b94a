import { ConfigError } from '../config/load.js';
import { checkRunName } from '../config/run-name.js';

export function parsePositiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag} must be a whole number of at least 1 (got "${value}")`);
  return n;
}

export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${flag} must be a port number from 0 to 65535 (got "${value}")`);
  return n;
}

/** A run name from --name: it becomes part of Redis keys and the queue name, so it is checked first. */
export function parseRunName(value: string): string {
  return checkRunName(value, '--name');
}
