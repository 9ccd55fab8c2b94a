import { createHash } from 'node:crypto';
import { QUEUE_DEFAULTS } from '../config/defaults.js';

/**
 * Redis layout: every key name respool uses comes from this module (docs/architecture.md#redis-keys). BullMQ keeps its keys under `<prefix>:q:<run>:*`; respool's own per-run keys live under
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
  lineCounts: string; // hash: status -> lines written with that status (kept by the collector)
  progress: string; // list: "<ms>:<written>" samples, newest first, for the rate in `status`
  failedLines: string; // hash: job id -> status, for written lines that `retry` can re-queue (failed, incomplete)
  retryData: string; // hash: job id -> JobData of items whose line is failed or incomplete, for `retry`
  retrying: string; // hash: job id -> JobData of items `retry` is re-queueing (crash-safe hand-over)
  superseded: string; // hash: job id -> generation: items whose older line the collector must drop from the file
  content: string; // hash: custom_id -> content key, for incremental runs (docs/nightly.md)
  dedupe: string; // hash: request key (SHA-256) -> "@<job id>" calling, or "=<line>" the shared answer
  dedupeRetryable: string; // hash: request key -> status, for shared answers `retry` can ask again
  calls: string; // hash: job id -> "<owner> <expiry ms>", the call claims (see queue/ledger.ts)
  spend: string; // hash: the max_cost account in nano-dollars (see queue/cost-cap.ts)
  spendLeases: string; // zset: lease -> expiry, the reservations of calls in flight
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
    lineCounts: `${base}:line_counts`,
    progress: `${base}:progress`,
    failedLines: `${base}:failed_lines`,
    retryData: `${base}:retry_data`,
    retrying: `${base}:retrying`,
    superseded: `${base}:superseded`,
    content: `${base}:content`,
    dedupe: `${base}:dedupe`,
    dedupeRetryable: `${base}:dedupe:retryable`,
    calls: `${base}:ledger:calls`,
    spend: `${base}:spend`,
    spendLeases: `${base}:spend:leases`,
  };
}

/**
 * The ledger's written set is 65,536 small hashes `<ledger>:w:<hhhh>`, named by the first
 * WRITTEN_BUCKET_HEX hex digits of the job id (the Lua in `commands/includes/written.lua` builds the
 * names), plus `<ledger>:w:_` for ids that are not respool job ids. This pattern matches them all.
 */
export function writtenBucketPattern(keys: RunKeys): string {
  return `${keys.ledger}:w:*`;
}

/** Number of hex digits of the job id that name a written-set bucket. */
export const WRITTEN_BUCKET_HEX = 4;

/** The prefix of the run's BullMQ job hashes: `<prefix>:q:<run>:<job id>`. */
export function jobKeyPrefix(run: string, prefix?: string): string {
  return `${bullPrefix(prefix)}:${run}:`;
}

/** One rate-limit budget (src/worker/limits/budget.ts), shared by every run on the same base URL, key and model. */
export function budgetKeys(prefix: string, id: string): { hash: string; inFlight: string } {
  return { hash: `${prefix}:budget:${id}`, inFlight: `${prefix}:budget:${id}:inflight` };
}

/** Held while a run of the schedule works (src/schedule/schedule-lock.ts). */
export function scheduleLockKey(schedule: string, prefix = QUEUE_DEFAULTS.prefix): string {
  return `${prefix}:schedule:${schedule}:active`;
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

/** Set of the content keys an incremental job has written successfully (docs/nightly.md). */
export function incrementalKey(state: string, prefix = QUEUE_DEFAULTS.prefix): string {
  return `${prefix}:incremental:${state}:done`;
}

/**
 * A run's provider-batch state (docs/modes.md): items parked for a batch, the chunks claimed for or
 * submitted as provider batches, and the hand-over of items to online calls. Kept apart from RunKeys so
 * that runs without batches never touch them.
 */
export interface BatchKeys {
  body: string; // hash: job id -> the request body `online` would send, as JSON
  data: string; // hash: job id -> the job's JobData, as JSON (for its line, or to send it online)
  pending: string; // list: job ids parked and not yet in a chunk (ids no longer in `body` are skipped)
  chunks: string; // hash: chunk id -> ChunkRecord JSON (file id and batch id once known)
  chunkItemsPrefix: string; // `<prefix><chunk id>`: list of the chunk's job ids
  inChunk: string; // hash: job id -> chunk id, while the item is in a chunk
  toOnline: string; // hash: job id -> JobData JSON, being put in the run's queue as an online job
  online: string; // set: job ids sent online; never parked again
  tries: string; // hash: job id -> batch answers worth another try so far; `<job id>@` -> the chunk last counted
  seq: string; // counter: chunk ids
  lease: string; // string: the process that submits and polls the run's batches, with an expiry
}

export function batchKeys(run: string, prefix = QUEUE_DEFAULTS.prefix): BatchKeys {
  const base = `${prefix}:run:${run}:batch`;
  return {
    body: `${base}:body`,
    data: `${base}:data`,
    pending: `${base}:pending`,
    chunks: `${base}:chunks`,
    chunkItemsPrefix: `${base}:chunk:`,
    inChunk: `${base}:in_chunk`,
    toOnline: `${base}:to_online`,
    online: `${base}:online`,
    tries: `${base}:tries`,
    seq: `${base}:seq`,
    lease: `${base}:lease`,
  };
}
