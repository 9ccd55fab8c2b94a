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
  /** `[[invalid_schema]]`: under a json_schema format, JSON that does not match the schema. */
  invalidSchema: boolean;
  /** `[[invalid_first:N]]`: the first N calls with this same input answer as `[[invalid_schema]]`. */
  invalidFirst: number;
  /**
   * `[[votes:a|b|a]]`: call k with this same input (counted from 0) answers the label `votes[k % n]`;
   * `a+b` is a list of labels for a multi-label schema, `-` none. For testing samples and majorities.
   */
  votes: string[] | null;
}

export const NO_MAGIC: Readonly<Magic> = Object.freeze({
  status: null,
  incomplete: false,
  refuse: false,
  failed: false,
  invalidJson: false,
  latencyMs: 0,
  invalidSchema: false,
  invalidFirst: 0,
  votes: null,
});

/** An hour is far beyond any sensible request timeout; the cap only guards against typos. */
const MAX_MAGIC_LATENCY_MS = 3_600_000;

const STATUS_TOKEN = /\[\[status:(\d{3})\]\]/;
const LATENCY_TOKEN = /\[\[latency:(\d{1,9})\]\]/;
const INVALID_FIRST_TOKEN = /\[\[invalid_first:(\d{1,3})\]\]/;
const VOTES_TOKEN = /\[\[votes:([^\]]*)\]\]/;

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
    invalidSchema: text.includes('[[invalid_schema]]'),
    invalidFirst: Number(INVALID_FIRST_TOKEN.exec(text)?.[1] ?? 0),
    votes: parseVotes(VOTES_TOKEN.exec(text)?.[1]),
  };
}

function parseVotes(raw: string | undefined): string[] | null {
  if (raw === undefined) return null;
  const votes = raw.split('|').map((v) => v.trim());
  return votes.length > 0 && votes.some((v) => v !== '') ? votes : null;
}

/** Whether the answer depends on how many calls with the same input came before. */
export function countsCalls(magic: Magic): boolean {
  return magic.votes !== null || magic.invalidFirst > 0;
}
