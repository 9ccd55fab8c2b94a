/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  fatal: 1,
  badConfig: 2,
  /** The run was stopped (the API refused the key); running again after fixing it resumes. */
  runStopped: 3,
  /** The run reached its max_cost: the items not sent have `skipped` lines. */
  costCapped: 4,
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
