/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  fatal: 1,
  badConfig: 2,
  /** The run was stopped (the API refused the key); running again after fixing it resumes. */
  runStopped: 3,
  /** The run reached its max_cost: the items not sent have `skipped` lines. */
  costCapped: 4,
  /** The run's state vanished from Redis mid-run (restart without its data, flush, clean); a later run goes on from the results file. */
  stateLost: 7,
  interrupted: 130,
} as const;

export class ExitError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}
