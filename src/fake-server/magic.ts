/**
 * Magic tokens: text placed in an item's input that makes the fake behave in a fixed way for that
 * item alone, so tests and demos can exercise every outcome without random faults.
 */

export interface Magic {
  /** `[[status:NNN]]`: answer this HTTP status (400..599) with an error object. */
  status: number | null;
  /** `[[incomplete]]`: status "incomplete" with partial text. */
  incomplete: boolean;
  /** `[[refuse]]`: a refusal part instead of output_text. */
  refuse: boolean;
  /** `[[failed]]`: HTTP 200 with status "failed". */
  failed: boolean;
  /** `[[invalid_json]]`: under a json_schema format, answer text that is not JSON. */
  invalidJson: boolean;
  /** `[[latency:MS]]`: extra delay for this call. */
  latencyMs: number;
}

export const NO_MAGIC: Readonly<Magic> = Object.freeze({
  status: null,
  incomplete: false,
  refuse: false,
  failed: false,
  invalidJson: false,
  latencyMs: 0,
});

/** An hour is far beyond any sensible request timeout; the cap only guards against typos. */
const MAX_MAGIC_LATENCY_MS = 3_600_000;

const STATUS_TOKEN = /\[\[status:(\d{3})\]\]/;
const LATENCY_TOKEN = /\[\[latency:(\d{1,9})\]\]/;

/** Cheap pre-check on the raw body so that ordinary requests skip serializing their input. */
export function mayHaveMagic(rawBody: string): boolean {
  return rawBody.includes('[[');
}

export function findMagic(text: string): Magic {
  if (!text.includes('[[')) return NO_MAGIC;
  const statusMatch = STATUS_TOKEN.exec(text);
  const status = statusMatch ? Number(statusMatch[1]) : null;
  const latencyMatch = LATENCY_TOKEN.exec(text);
  return {
    status: status !== null && status >= 400 && status <= 599 ? status : null,
    incomplete: text.includes('[[incomplete]]'),
    refuse: text.includes('[[refuse]]'),
    failed: text.includes('[[failed]]'),
    invalidJson: text.includes('[[invalid_json]]'),
    latencyMs: latencyMatch ? Math.min(Number(latencyMatch[1]), MAX_MAGIC_LATENCY_MS) : 0,
  };
}
