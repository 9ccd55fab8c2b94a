import { checkApiKey as checkApiKeyValue } from '../pipeline/api-key.js';
import type { Logger } from './logger.js';

const API_KEY_VARIABLE = 'OPENRESPONSES_API_KEY';

/** Refuses an OPENRESPONSES_API_KEY that cannot be sent in an HTTP header (see ../pipeline/api-key.ts). */
export function checkApiKey(env: NodeJS.ProcessEnv): void {
  checkApiKeyValue(env[API_KEY_VARIABLE], API_KEY_VARIABLE);
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
