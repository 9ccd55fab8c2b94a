import { ConfigError } from './load.js';
import { RUN_NAME_PATTERN, RUN_NAME_RULE } from './schema.js';

/**
 * A run name given by a caller (`--name`, a library method): it becomes part of Redis keys and the
 * queue name, so a name that could reach other keys (`a:b`, `*`) is refused before anything is read or
 * written. `setting` names it in the message. Returns the name.
 */
export function checkRunName(value: unknown, setting: string): string {
  if (typeof value === 'string' && RUN_NAME_PATTERN.test(value)) return value;
  const shown = typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
  throw new ConfigError(`${setting}: ${shown} is not a run name; it ${RUN_NAME_RULE}`);
}
