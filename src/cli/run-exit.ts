import type { Redis } from 'ioredis';
import { readUnsuccessful, UNSUCCESSFUL_STATUSES as UNSUCCESSFUL, type UnsuccessfulLines } from '../pipeline/outcome.js';
import type { StopKind } from '../queue/run-meta.js';
import { EXIT, ExitError } from './exit.js';
import type { Logger } from '../core/logger.js';

/** A stopped run's exit: the key was refused (3), the API could not be reached (6), or has no batch endpoint (8). */
export function stoppedExit(run: string, kind: StopKind | null, reason: string | null): ExitError {
  const code = kind === 'api_unavailable' ? EXIT.apiUnavailable : kind === 'no_batch_api' ? EXIT.noBatchApi : EXIT.runStopped;
  return new ExitError(`run ${run} stopped: ${reason ?? 'unknown reason'}`, code);
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
