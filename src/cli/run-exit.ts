import type { Redis } from 'ioredis';
import { runKeys } from '../queue/keys.js';
import type { StopKind } from '../queue/run-meta.js';
import { EXIT, ExitError } from './exit.js';
import type { Logger } from '../core/logger.js';

/** Line statuses that mean the item's call did not work out; `respool retry` queues them again. */
const UNSUCCESSFUL = ['failed', 'incomplete', 'invalid_output'] as const;
type Unsuccessful = (typeof UNSUCCESSFUL)[number];

export interface UnsuccessfulLines {
  /** Items whose written line is failed, incomplete or invalid_output. */
  total: number;
  byStatus: Record<Unsuccessful, number>;
}

/** A stopped run's exit: the key was refused (3), or the API could not be reached (6). */
export function stoppedExit(run: string, kind: StopKind | null, reason: string | null): ExitError {
  return new ExitError(`run ${run} stopped: ${reason ?? 'unknown reason'}`, kind === 'api_unavailable' ? EXIT.apiUnavailable : EXIT.runStopped);
}

/**
 * The run's lines that did not succeed, over the whole run (not only this process's): the items the
 * collector noted for `retry` (failed_lines), and the per-status counts it keeps for `status`.
 */
export async function readUnsuccessful(redis: Redis, run: string, prefix?: string): Promise<UnsuccessfulLines> {
  const keys = runKeys(run, prefix);
  const [total, counts] = await Promise.all([redis.hlen(keys.failedLines), redis.hmget(keys.lineCounts, ...UNSUCCESSFUL)]);
  const byStatus = Object.fromEntries(UNSUCCESSFUL.map((s, i) => [s, Math.max(0, Number(counts[i] ?? 0) || 0)])) as Record<Unsuccessful, number>;
  return { total, byStatus };
}

/** "2 failed, 1 incomplete" and the retry command that queues them again. Pure. */
export function describeUnsuccessful(run: string, lines: UnsuccessfulLines): { counts: string; retry: string } {
  const present = UNSUCCESSFUL.filter((s) => lines.byStatus[s] > 0);
  const counts = present.length > 0 ? present.map((s) => `${lines.byStatus[s]} ${s}`).join(', ') : `${lines.total} failed`;
  // `retry` takes failed lines unless told otherwise.
  const statuses = present.length === 0 || (present.length === 1 && present[0] === 'failed') ? '' : ` --status ${present.join(',')}`;
  return { counts, retry: `respool retry --name ${run}${statuses}` };
}

/**
 * A complete run whose lines include failed, incomplete or invalid_output ones exits with code 5, so
 * that a script can tell; with `allow` (--allow-failures, allow_failures) it says so and exits 0.
 */
export async function failIfUnsuccessful(redis: Redis, log: Logger, run: string, allow: boolean, prefix?: string): Promise<void> {
  const lines = await readUnsuccessful(redis, run, prefix);
  if (lines.total === 0) return;
  const { counts, retry } = describeUnsuccessful(run, lines);
  const said = `run ${run} is complete, but ${lines.total} line${lines.total === 1 ? '' : 's'} did not succeed (${counts}); ${retry} queues ${lines.total === 1 ? 'it' : 'them'} again`;
  if (allow) {
    log.warn(said);
    return;
  }
  throw new ExitError(`${said}; --allow-failures (allow_failures: true) makes such a run exit 0`, EXIT.failedLines);
}
