/**
 * Scrubbing of secrets from text that came from outside (response bodies, exception messages) before it
 * ends up in an error message, a log or a results line.
 */

const MASK = '[REDACTED]';

/**
 * Replaces every occurrence of each secret with `[REDACTED]`, and also masks anything that looks like a
 * credential after `Bearer`/`Basic` (12+ token characters): a proxy that echoes request headers back in its
 * error page would otherwise leak a key we were not told about. The length floor keeps prose such as
 * "use Bearer auth" readable.
 * Longer secrets are replaced first so that a secret containing another one is masked whole.
 * Empty secrets are skipped (they would match everywhere).
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  const sorted = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  for (const secret of sorted) {
    out = out.split(secret).join(MASK);
  }
  return out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=:-]{12,}/gi, `$1 ${MASK}`);
}

/** Cuts `text` to at most `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more chars)`;
}
