import { ConfigError } from '../config/load.js';
import { HEADER_VALUE } from '../worker/client.js';
import type { Logger } from '../core/logger.js';

const API_KEY_VARIABLE = 'OPENRESPONSES_API_KEY';

/**
 * A key that cannot be sent in an HTTP header (a line break or another control character inside it,
 * e.g. two lines pasted together) would fail every call of the run; it is a bad setting, refused
 * before anything starts. The message names the variable and the position, never the key. Leading
 * and trailing whitespace is fine: the client trims it (keys read from files end with a newline).
 */
export function checkApiKey(env: NodeJS.ProcessEnv): void {
  const key = env[API_KEY_VARIABLE]?.trim();
  if (!key || HEADER_VALUE.test(key)) return;
  const chars = [...key];
  const at = chars.findIndex((c) => !HEADER_VALUE.test(c));
  throw new ConfigError(
    `${API_KEY_VARIABLE} contains ${describeChar(chars[at]?.codePointAt(0) ?? 0)} at character ${at + 1}, which cannot be sent in an HTTP header; set the variable to the key alone`,
  );
}

function describeChar(code: number): string {
  if (code === 0x0d) return 'a carriage return (\\r)';
  if (code === 0x0a) return 'a line break (\\n)';
  if (code === 0x00) return 'a NUL byte';
  return `the character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Other variables people keep a key in; respool reads only OPENRESPONSES_API_KEY. */
const OTHER_KEY_VARIABLES = ['OPENAI_API_KEY'];

/**
 * The warning for a process that has no API key, or null when it has one. When the key sits in a
 * variable respool does not read, it says how to pass it (naming the variable, never its value).
 */
export function missingApiKeyWarning(env: NodeJS.ProcessEnv): string | null {
  if (env.OPENRESPONSES_API_KEY) return null;
  const base = 'OPENRESPONSES_API_KEY is not set: calls go out without a key';
  const other = OTHER_KEY_VARIABLES.find((name) => env[name]);
  return other ? `${base}. ${other} is set, but respool reads only OPENRESPONSES_API_KEY; to use it: export OPENRESPONSES_API_KEY="$${other}"` : base;
}

export function warnIfNoApiKey(log: Logger, env: NodeJS.ProcessEnv = process.env): void {
  const warning = missingApiKeyWarning(env);
  if (warning) log.warn(warning);
}
