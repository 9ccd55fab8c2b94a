/** Which calls fail and how. Pure apart from the PRNG state the caller passes in. */
import type { FaultKind, FaultOptions } from './types.js';

export const DEFAULT_FAIL_KINDS: readonly FaultKind[] = ['429', '500'];
const FAULT_KINDS: readonly FaultKind[] = ['429', '500', '503', 'reset', 'truncate'];

/** Small seeded PRNG (mulberry32): the same seed gives the same fault sequence. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The fault for a call, or null to answer normally. `callIndex` is 0 for the first call with this
 * Idempotency-Key. The deterministic `failFirst` wins over the random rates; the PRNG is drawn only
 * when some rate is set, so enabling rates never shifts a run that had none.
 */
export function decideFault(callIndex: number, faults: FaultOptions | undefined, rng: () => number): FaultKind | null {
  if (!faults) return null;
  const failFirst = faults.failFirst ?? 0;
  if (callIndex < failFirst) {
    const kinds = faults.failKinds && faults.failKinds.length > 0 ? faults.failKinds : DEFAULT_FAIL_KINDS;
    return kinds[callIndex % kinds.length] ?? null;
  }
  const rates: Array<[FaultKind, number]> = [
    ['429', faults.rate429 ?? 0],
    ['500', faults.rate500 ?? 0],
    ['reset', faults.rateReset ?? 0],
    ['truncate', faults.rateTruncate ?? 0],
  ];
  if (rates.every(([, r]) => r <= 0)) return null;
  const draw = rng();
  let threshold = 0;
  for (const [kind, rate] of rates) {
    threshold += rate;
    if (draw < threshold) return kind;
  }
  return null;
}

/** Whether flex refuses this call for lack of capacity; the PRNG is drawn only for flex requests while the switch is on. */
export function flexRefuses(request: Record<string, unknown>, faults: FaultOptions | undefined, rng: () => number): boolean {
  const rate = faults?.flexUnavailable ?? 0;
  return rate > 0 && request['service_tier'] === 'flex' && rng() < rate;
}

/** Retry hints sent with 429 and 503 answers, as configured, and "nothing left" on 429s when asked. */
export function retryHeaders(status: number, faults: FaultOptions | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!faults || (status !== 429 && status !== 503)) return headers;
  if (faults.retryAfterS !== undefined) headers['retry-after'] = String(faults.retryAfterS);
  if (faults.retryAfterMs !== undefined) headers['retry-after-ms'] = String(faults.retryAfterMs);
  if (faults.exhausted429 && status === 429) headers['x-ratelimit-remaining-requests'] = '0';
  return headers;
}

/** Throws a RangeError naming the first bad field; used for the API, `/_options` and the CLI alike. */
export function checkFaultOptions(faults: FaultOptions): void {
  for (const key of ['rate429', 'rate500', 'rateReset', 'rateTruncate', 'rateInvalid', 'flexUnavailable'] as const) {
    const v = faults[key];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) {
      throw new RangeError(`faults.${key} must be a number between 0 and 1`);
    }
  }
  const total = (faults.rate429 ?? 0) + (faults.rate500 ?? 0) + (faults.rateReset ?? 0) + (faults.rateTruncate ?? 0);
  if (total > 1) throw new RangeError('the fault rates must add up to at most 1');
  for (const key of ['retryAfterS', 'retryAfterMs', 'failFirst'] as const) {
    const v = faults[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0)) {
      throw new RangeError(`faults.${key} must be a non-negative integer`);
    }
  }
  if (faults.exhausted429 !== undefined && typeof faults.exhausted429 !== 'boolean') throw new RangeError('faults.exhausted429 must be true or false');
  if (faults.seed !== undefined && !(typeof faults.seed === 'number' && Number.isInteger(faults.seed))) {
    throw new RangeError('faults.seed must be an integer');
  }
  if (faults.failKinds !== undefined) {
    if (!Array.isArray(faults.failKinds) || faults.failKinds.some((k) => !FAULT_KINDS.includes(k))) {
      throw new RangeError(`faults.failKinds must be a list of ${FAULT_KINDS.join(', ')}`);
    }
  }
}
