import { ConfigError } from '../config/load.js';
import { HEADER_VALUE } from '../worker/client.js';

/**
 * A key that cannot be sent in an HTTP header (a line break or another control character inside it,
 * e.g. two lines pasted together) would fail every call of the run; it is a bad setting, refused
 * before anything starts. The message names where the key came from (`source`) and the position,
 * never the key. Leading and trailing whitespace is fine: the client trims it (keys read from files
 * end with a newline).
 */
export function checkApiKey(apiKey: string | undefined, source: string): void {
  const key = apiKey?.trim();
  if (!key || HEADER_VALUE.test(key)) return;
  const chars = [...key];
  const at = chars.findIndex((c) => !HEADER_VALUE.test(c));
  throw new ConfigError(`${source} contains ${describeChar(chars[at]?.codePointAt(0) ?? 0)} at character ${at + 1}, which cannot be sent in an HTTP header; set ${source === 'apiKey' ? 'it' : 'the variable'} to the key alone`);
}

function describeChar(code: number): string {
  if (code === 0x0d) return 'a carriage return (\\r)';
  if (code === 0x0a) return 'a line break (\\n)';
  if (code === 0x00) return 'a NUL byte';
  return `the character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}
