import { createHash } from 'node:crypto';
import { QUEUE_DEFAULTS } from '../config/defaults.js';

/**
 * Redis layout. BullMQ keeps its keys under `<prefix>:q:<run>:*`; respool's own per-run keys live under
 * `<prefix>:run:<run>:*`, so the two can never collide. Run names are validated (no `:`), and nothing
 * from input data ever becomes part of a key: custom_ids are hashed into job ids.
 */
export interface RunKeys {
  meta: string; // hash: settings and state of the run
  ledger: string; // hash: job id -> mark + source ("-" claimed, "=" delivered); written items move to `<ledger>:w:<hhhh>`
  results: string; // stream: result lines waiting for the collector
  written: string; // counter: lines written
  writing: string; // the batch the collector is writing, for crash recovery
  collectorLock: string;
  budgets: string; // set: ids of the rate-limit budgets the run's workers use
}

export function bullPrefix(prefix = QUEUE_DEFAULTS.prefix): string {
  return `${prefix}:q`;
}

export function runKeys(run: string, prefix = QUEUE_DEFAULTS.prefix): RunKeys {
  const base = `${prefix}:run:${run}`;
  return {
    meta: `${base}:meta`,
    ledger: `${base}:ledger`,
    results: `${base}:results`,
    written: `${base}:written`,
    writing: `${base}:writing`,
    collectorLock: `${base}:collector`,
    budgets: `${base}:budgets`,
  };
}

/** The set of known runs, so `respool worker` can find queues without being told. */
export function runsKey(prefix = QUEUE_DEFAULTS.prefix): string {
  return `${prefix}:runs`;
}

/**
 * Deterministic job id: the same run and custom_id always give the same id, so enqueueing twice adds
 * nothing twice. Hashed because BullMQ refuses all-digit ids and ids containing `:`, and because a
 * custom_id is user data; the leading letter keeps it from ever being all digits.
 */
export function jobIdFor(run: string, customId: string): string {
  return `i${createHash('sha256').update(run).update('\0').update(customId).digest('hex').slice(0, 32)}`;
}
