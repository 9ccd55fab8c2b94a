import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import { WRITTEN_BUCKET_HEX, writtenBucketPattern, type RunKeys } from './keys.js';
import { luaCommands } from './lua-commands.js';

/**
 * The run's ledger: what became of each item. It makes enqueueing idempotent across crashes and
 * restarts, keeps a re-run job from paying for a second API call, finds duplicate custom_ids, tells
 * when a run is complete, and keeps what `respool retry` needs to queue an item again.
 *
 * Items in flight live in one hash, job id -> a state mark followed by the item's source text:
 * "-" claimed, "=" its line delivered to the run's results stream by a worker. (The mark is always
 * there, so a source that itself starts with one, like a file named "=prices.csv", cannot be misread.)
 *
 * When the collector has written an item's line, the item leaves that hash for the compact written
 * set: 65,536 small hashes `<ledger>:w:<hhhh>` (the job id's first 4 hex digits), each field the next
 * 12 hex digits as 6 raw bytes, each value a 23-bit fingerprint of the source. Small hashes are kept
 * by Redis as listpacks, about 13 bytes per entry, so a written item costs a few bytes instead of its
 * job id and path (see docs/architecture.md for measured figures). Together the two forms keep 64 bits
 * of the 128-bit job id per written item, and an item's source fingerprint, which is all the
 * decisions below need:
 *
 * - in flight, or written: a second delivery is refused (exactly one line leaves the workers);
 * - written with the same source fingerprint: a re-run skips the item;
 * - written with another fingerprint: the custom_id is a duplicate.
 *
 * Completion: the in-flight hash is empty once every item is written, so items = HLEN + written.
 *
 * This class is the only writer of the ledger's keys (in-flight hash, written set, call claims,
 * results stream, written count, failed lines, retry data, retrying, superseded); the layout lives
 * here and in the scripts of `commands/` that it runs (the written set's in
 * `commands/includes/written.lua`). A run's `RunStore` (run-store.ts) holds one.
 */

export type ClaimState = 'new' | 'pending' | 'done' | 'duplicate';

export interface Claim {
  state: ClaimState;
  /** For duplicates: the source that claimed the custom_id first (unknown once that item is written). */
  firstSource?: string;
}

/**
 * What a job may do right before an API call for its item: `go` (the claim is its own now), `done`
 * (the item's line is delivered or written: no call, no line), `busy` (another job's live claim; try
 * again after `waitMs`), `lost` (the run's meta is gone from Redis: no call).
 */
export type CallClaim = { state: 'go' } | { state: 'done' } | { state: 'busy'; waitMs: number } | { state: 'lost' };

/** An item whose line is in the results file: `base` is its source's file name and line (`reviews.csv:7`), or null when the line names none. */
export interface FileItem {
  id: string;
  base: string | null;
  status: string;
  /** The file has an earlier line for the same item. */
  repeated: boolean;
}

/** An item retried whose old line the collector is to drop from the file, with the generation of its mark. */
export interface DueItem {
  id: string;
  generation: string;
}

/** Line statuses `respool retry` can re-queue: the item itself was fine, the call did not work out. */
export const RETRYABLE_STATUSES = ['failed', 'incomplete', 'invalid_output'] as const;
const RETRYABLE = new Set<string>(RETRYABLE_STATUSES);

export function isRetryable(status: string): boolean {
  return RETRYABLE.has(status);
}

/** The written-set fingerprint of an item known from a results line that names no source. */
const ANY_SOURCE_FP = 8388608;
const WRITTEN = { WRITTEN_BUCKET_HEX, ANY_SOURCE: ANY_SOURCE_FP };

interface LedgerCommands {
  respoolClaim(ledger: string, ...idSourcePairs: string[]): Promise<string[]>;
  respoolDeliver(ledger: string, results: string, calls: string, meta: string, ...idLinePairs: string[]): Promise<number[]>;
  respoolClaimCall(ledger: string, calls: string, meta: string, ttlMs: string, ...idOwnerPairs: string[]): Promise<string[]>;
  respoolReleaseCall(calls: string, ...idOwnerPairs: string[]): Promise<number>;
  respoolMarkWritten(ledger: string, written: string, writing: string, meta: string, ...ids: string[]): Promise<number>;
  respoolLedgerStates(ledger: string, ...ids: string[]): Promise<number[]>;
  respoolLedgerCounts(ledger: string, written: string): Promise<[number, number]>;
  respoolSeed(ledger: string, written: string, lineCounts: string, superseded: string, ...args: string[]): Promise<number>;
  respoolNoteLines(ledger: string, failedLines: string, retryData: string, ...args: string[]): Promise<number>;
  respoolRequeue(ledger: string, written: string, failedLines: string, retryData: string, retrying: string, superseded: string, lineCounts: string, ...args: string[]): Promise<[number, number]>;
  respoolSupersededDue(ledger: string, superseded: string): Promise<string[]>;
  respoolSupersededDone(superseded: string, ...idGen: string[]): Promise<number>;
}

const LEDGER_COMMANDS = {
  respoolClaim: { file: 'claimItems', constants: WRITTEN },
  respoolDeliver: { file: 'deliver', constants: WRITTEN },
  respoolClaimCall: { file: 'claimCall', constants: WRITTEN },
  respoolReleaseCall: { file: 'releaseCall' },
  respoolMarkWritten: { file: 'markWritten', constants: WRITTEN },
  respoolLedgerStates: { file: 'ledgerStates', constants: WRITTEN },
  respoolLedgerCounts: { file: 'ledgerCounts' },
  respoolSeed: { file: 'seedWritten', constants: WRITTEN },
  respoolNoteLines: { file: 'noteLineStatuses' },
  respoolRequeue: { file: 'requeue', constants: WRITTEN },
  respoolSupersededDue: { file: 'supersededDue', constants: WRITTEN },
  respoolSupersededDone: { file: 'supersededDone' },
} as const;

/** What `requeueWritten` did with a page of items. */
export interface RequeueCount {
  /** Items put back in flight, their data moved to `retrying`. */
  requeued: number;
  /** Items with a wanted status whose data was not kept (written before respool kept it). */
  missing: number;
}

export class RunLedger {
  constructor(
    private readonly redis: Redis,
    readonly keys: RunKeys,
  ) {}

  private get cmd(): LedgerCommands {
    return luaCommands<LedgerCommands>(this.redis, LEDGER_COMMANDS);
  }

  /** The producer records items: new ones are claimed; see `commands/claimItems.lua`. */
  async claimItems(entries: Array<{ id: string; source: string }>): Promise<Claim[]> {
    if (entries.length === 0) return [];
    const raw = await this.cmd.respoolClaim(this.keys.ledger, ...entries.flatMap((e) => [e.id, e.source]));
    return raw.map((r) => {
      if (!r.startsWith('dup:')) return { state: r as ClaimState };
      const first = r.slice(4);
      return first ? { state: 'duplicate', firstSource: first } : { state: 'duplicate' };
    });
  }

  /**
   * Hands lines over to the results stream. For each line: false when the item's line had already
   * been delivered (its job ran twice), or when the run's meta is gone (the run was cleaned, or Redis
   * lost its data).
   */
  async deliver(lines: Array<{ id: string; line: string }>): Promise<boolean[]> {
    if (lines.length === 0) return [];
    const k = this.keys;
    const raw = await this.cmd.respoolDeliver(k.ledger, k.results, k.calls, k.meta, ...lines.flatMap((l) => [l.id, l.line]));
    return raw.map((v) => v === 1);
  }

  /** Takes the items' call claims for `ttlMs`, right before their API calls; see `commands/claimCall.lua`. */
  async claimCalls(ttlMs: number, entries: Array<{ id: string; owner: string }>): Promise<CallClaim[]> {
    if (entries.length === 0) return [];
    const k = this.keys;
    const raw = await this.cmd.respoolClaimCall(k.ledger, k.calls, k.meta, String(ttlMs), ...entries.flatMap((e) => [e.id, e.owner]));
    return raw.map((r): CallClaim => (r.startsWith('busy:') ? { state: 'busy', waitMs: Number(r.slice(5)) } : { state: r as 'go' | 'done' | 'lost' }));
  }

  /** Ends the claims these owners hold (an attempt that failed); claims of other owners stay. */
  async releaseCalls(entries: Array<{ id: string; owner: string }>): Promise<void> {
    if (entries.length > 0) await this.cmd.respoolReleaseCall(this.keys.calls, ...entries.flatMap((e) => [e.id, e.owner]));
  }

  /** Marks a batch written and clears the collector's batch record, in one step; returns how many were new. */
  async markWritten(ids: string[]): Promise<number> {
    if (ids.length === 0) {
      await this.redis.del(this.keys.writing);
      return 0;
    }
    const k = this.keys;
    return this.cmd.respoolMarkWritten(k.ledger, k.written, k.writing, k.meta, ...ids);
  }

  /** For each id: 2 written, 1 delivered, 0 claimed or unknown. */
  private async states(ids: string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    return this.cmd.respoolLedgerStates(this.keys.ledger, ...ids);
  }

  /** For each id: true once its line is delivered or written (running it again would pay twice). */
  async areDone(ids: string[]): Promise<boolean[]> {
    return (await this.states(ids)).map((s) => s >= 1);
  }

  async areWritten(ids: string[]): Promise<boolean[]> {
    return (await this.states(ids)).map((s) => s === 2);
  }

  /** Items recorded and lines written, read in one step. */
  async counts(): Promise<{ items: number; written: number }> {
    const [inFlight, written] = await this.cmd.respoolLedgerCounts(this.keys.ledger, this.keys.written);
    return { items: inFlight + written, written };
  }

  /** Records items found in the results file as written (see `commands/seedWritten.lua`); returns how many were new to the ledger. */
  async seedWritten(items: FileItem[]): Promise<number> {
    if (items.length === 0) return 0;
    const k = this.keys;
    return this.cmd.respoolSeed(k.ledger, k.written, k.lineCounts, k.superseded, ...items.flatMap((i) => [i.id, i.base ?? '', i.status, i.repeated ? '1' : '0']));
  }

  /**
   * Keeps the job data of an item whose line is `failed` or `incomplete` (jobs are deleted once their
   * line is delivered), so that `retry` can queue it again without the input files.
   */
  async saveRetryData(id: string, data: JobData): Promise<void> {
    await this.redis.hset(this.keys.retryData, id, JSON.stringify(data));
  }

  /**
   * The collector notes, before it writes a batch, which items' lines in the file can be retried (and
   * drops the saved data of the others). Done before the write, so a crash can only repeat it.
   */
  async noteLineStatuses(lines: Array<{ id: string; status: string }>): Promise<void> {
    if (lines.length === 0) return;
    const k = this.keys;
    await this.cmd.respoolNoteLines(k.ledger, k.failedLines, k.retryData, ...lines.flatMap((l) => [l.id, l.status, isRetryable(l.status) ? '1' : '0']));
  }

  /** Ids (a page from `cursor`) of items whose written line `retry` may re-queue. */
  async failedLinesPage(cursor: string): Promise<{ next: string; ids: string[] }> {
    const [next, flat] = await this.redis.hscan(this.keys.failedLines, cursor, 'COUNT', 500);
    return { next, ids: flat.filter((_, i) => i % 2 === 0) };
  }

  /**
   * Puts written items whose line has one of `statuses` back in flight (see `commands/requeue.lua`):
   * their data moves to `retrying` until their jobs are queued.
   */
  async requeueWritten(statuses: readonly string[], ids: string[]): Promise<RequeueCount> {
    if (ids.length === 0) return { requeued: 0, missing: 0 };
    const k = this.keys;
    const [requeued, missing] = await this.cmd.respoolRequeue(k.ledger, k.written, k.failedLines, k.retryData, k.retrying, k.superseded, k.lineCounts, statuses.join(','), ...ids);
    return { requeued, missing };
  }

  /** A page (from `cursor`) of the items being re-queued, with their job data. */
  async retryingPage(cursor: string): Promise<{ next: string; entries: Array<{ id: string; data: JobData }> }> {
    const [next, flat] = await this.redis.hscan(this.keys.retrying, cursor, 'COUNT', 500);
    const entries: Array<{ id: string; data: JobData }> = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i]!, data: JSON.parse(flat[i + 1]!) as JobData });
    return { next, entries };
  }

  /** The items' jobs are in the queue: they are no longer being re-queued. */
  async doneRetrying(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.hdel(this.keys.retrying, ...ids);
  }

  /**
   * The superseded items, once every one of them has its new line written; none while any still
   * waits (see `commands/supersededDue.lua`).
   */
  async supersededDue(): Promise<DueItem[]> {
    const flat = await this.cmd.respoolSupersededDue(this.keys.ledger, this.keys.superseded);
    const out: DueItem[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, generation: flat[i + 1]! });
    return out;
  }

  /** The file was rewritten without their old lines: their marks go, unless retried again since. */
  async supersededDone(due: DueItem[]): Promise<void> {
    if (due.length > 0) await this.cmd.respoolSupersededDone(this.keys.superseded, ...due.flatMap((d) => [d.id, d.generation]));
  }

  /** Items whose old line is still to leave the file (the run is not complete while there are any). */
  async supersededCount(): Promise<number> {
    return this.redis.hlen(this.keys.superseded);
  }

  /** Deletes the ledger: the in-flight hash, the call claims and every bucket of the written set. */
  async delete(): Promise<void> {
    await this.redis.del(this.keys.ledger, this.keys.calls);
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', writtenBucketPattern(this.keys), 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await this.redis.del(...found);
    } while (cursor !== '0');
  }
}

// Function forms, kept for callers that hold a connection and the run's keys rather than a RunStore.

export async function claim(redis: Redis, keys: RunKeys, entries: Array<{ id: string; source: string }>): Promise<Claim[]> {
  return new RunLedger(redis, keys).claimItems(entries);
}

export async function markWritten(redis: Redis, keys: RunKeys, ids: string[]): Promise<number> {
  return new RunLedger(redis, keys).markWritten(ids);
}

/** See `RunLedger.deliver`. */
export async function deliver(redis: Redis, keys: RunKeys, lines: Array<{ id: string; line: string }>): Promise<boolean[]> {
  return new RunLedger(redis, keys).deliver(lines);
}

export async function claimCalls(redis: Redis, keys: RunKeys, ttlMs: number, entries: Array<{ id: string; owner: string }>): Promise<CallClaim[]> {
  return new RunLedger(redis, keys).claimCalls(ttlMs, entries);
}

export async function releaseCalls(redis: Redis, keys: RunKeys, entries: Array<{ id: string; owner: string }>): Promise<void> {
  return new RunLedger(redis, keys).releaseCalls(entries);
}

export async function areDone(redis: Redis, keys: RunKeys, ids: string[]): Promise<boolean[]> {
  return new RunLedger(redis, keys).areDone(ids);
}

export async function areWritten(redis: Redis, keys: RunKeys, ids: string[]): Promise<boolean[]> {
  return new RunLedger(redis, keys).areWritten(ids);
}

export async function ledgerCounts(redis: Redis, keys: RunKeys): Promise<{ items: number; written: number }> {
  return new RunLedger(redis, keys).counts();
}

export async function deleteLedger(redis: Redis, keys: RunKeys): Promise<void> {
  return new RunLedger(redis, keys).delete();
}
