import type { CallClaim } from '../queue/ledger.js';

/**
 * Why a job made no API call after all, from the ledger's call claim taken right before the call
 * (src/queue/ledger.ts). The processor ends the job accordingly: no line for `done` and `lost`, and
 * the job comes back later for `busy`.
 */
export class CallNotMadeError extends Error {
  override name = 'CallNotMadeError';
  constructor(readonly claim: Exclude<CallClaim, { state: 'go' }>) {
    super(describe(claim));
  }
}

function describe(claim: Exclude<CallClaim, { state: 'go' }>): string {
  switch (claim.state) {
    case 'done':
      return "the item's line is already delivered";
    case 'busy':
      return `another job is calling the API for this item (its claim lapses in ${claim.waitMs} ms)`;
    case 'lost':
      return "the run's state is gone from Redis";
  }
}

/** When a job whose item is claimed by another job comes back: a little after that claim lapses. */
export function busyRetryAt(now: number, waitMs: number): number {
  return now + Math.max(100, waitMs) + Math.floor(Math.random() * 100);
}
