/** The `on_complete` webhook: one JSON POST of the run's summary, retried a little, never fatal. */
import { HTTP_DEFAULTS, NIGHTLY_DEFAULTS } from '../config/defaults.js';
import { sleep } from '../core/sleep.js';
import type { Logger } from '../core/logger.js';

const ATTEMPTS = 3;

/** Returns the HTTP status of the last answer, or null when none came. */
export async function postSummary(url: string, summary: unknown, log: Logger, timeoutMs = NIGHTLY_DEFAULTS.webhookTimeoutMs): Promise<number | null> {
  // The URL may hold a user, a password or a token in its query: logs show only where it goes.
  const where = safeTarget(url);
  const target = splitCredentials(url);
  let status: number | null = null;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': HTTP_DEFAULTS.userAgent, ...target.headers },
        body: JSON.stringify(summary),
        // A redirect would send the summary (and the credentials) to an address nobody configured.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      status = res.status;
      if (res.ok) {
        log.info(`on_complete: POST to ${where} answered ${res.status}`);
        return status;
      }
      if (res.status >= 300 && res.status < 400) {
        log.warn(`on_complete: POST to ${where} answered ${res.status}, a redirect; redirects are not followed (give the final URL)`);
        break;
      }
      // A 4xx will not get better by asking again.
      if (res.status < 500 && res.status !== 429) break;
    } catch (err) {
      log.warn(`on_complete: POST to ${where} failed: ${withoutUrl((err as Error).message, url, target.url)}`);
    }
    if (attempt < ATTEMPTS) await sleep(1000 * attempt);
  }
  log.warn(`on_complete: POST to ${where} did not succeed${status === null ? '' : ` (last answer ${status})`}; the results file is written`);
  return status;
}

/** Scheme, host and path: no user, password, query or fragment. */
export function safeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the webhook';
  }
}

/**
 * `https://user:pass@host/...` is sent as Basic authorization to `https://host/...`: fetch refuses a
 * URL with credentials (and its error would print them).
 */
function splitCredentials(url: string): { url: string; headers: Record<string, string> } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url, headers: {} };
  }
  if (u.username === '' && u.password === '') return { url, headers: {} };
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return { url: u.href, headers: { authorization: `Basic ${basic}` } };
}

/** An error message with the webhook's URL (in any of its spellings) replaced by its safe form. */
function withoutUrl(message: string, ...urls: string[]): string {
  let out = message;
  for (const url of urls) {
    for (const spelling of new Set([url, hrefOf(url)])) if (spelling) out = out.split(spelling).join(safeTarget(url));
  }
  return out;
}

function hrefOf(url: string): string | null {
  try {
    return new URL(url).href;
  } catch {
    return null;
  }
}
