/**
 * The request key of an item: SHA-256 of its canonical request, so that identical requests of a run
 * share one call (src/worker/dedupe.ts). Pure. The request is the final body the worker would send
 * (model, prompt or input, images as the data URIs of their bytes, every setting), plus what else
 * shapes the line made from the answers: the structured plan (schema checks, re-asks, `samples`) and
 * the output format. Canonical: object keys sorted at every level, so the order in which settings or
 * a JSONL line's fields were written does not matter; arrays keep their order.
 *
 * Only the hash leaves the process: no prompt text or image bytes go into a Redis key.
 */
import { createHash, type Hash } from 'node:crypto';
import { DEFAULTS } from '../config/defaults.js';

export interface RequestKeyParts {
  body: Record<string, unknown>;
  /** Samples, re-asks and the schema the answers are checked against; absent without one. */
  plan?: unknown;
  /** @default DEFAULTS.output_format */
  outputFormat?: string | undefined;
}

export function requestKey(parts: RequestKeyParts): string {
  const hash = createHash('sha256');
  feedCanonical(hash, { body: parts.body, plan: parts.plan ?? null, output_format: parts.outputFormat ?? DEFAULTS.output_format });
  return hash.digest('hex');
}

/** The canonical JSON text of `value`, for tests and debugging (`requestKey` hashes the same text). */
export function canonicalJson(value: unknown): string {
  let text = '';
  feedCanonical({ update: (s: string) => (text += s) }, value);
  return text;
}

/**
 * Writes `value` as JSON with sorted object keys, piece by piece: an image body holds megabytes of
 * base64, and hashing it as it is walked avoids building a second copy of the whole body first.
 * Values JSON cannot hold are written as JSON.stringify would (undefined members left out).
 */
function feedCanonical(out: Pick<Hash, 'update'> | { update(s: string): unknown }, value: unknown): void {
  if (value === null || typeof value !== 'object') {
    out.update(JSON.stringify(value) ?? 'null');
    return;
  }
  if (Array.isArray(value)) {
    out.update('[');
    value.forEach((v, i) => {
      if (i > 0) out.update(',');
      feedCanonical(out, v === undefined || typeof v === 'function' ? null : v);
    });
    out.update(']');
    return;
  }
  out.update('{');
  let first = true;
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out.update(',');
    first = false;
    out.update(JSON.stringify(key));
    out.update(':');
    feedCanonical(out, v);
  }
  out.update('}');
}
