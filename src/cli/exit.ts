/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  fatal: 1,
  badConfig: 2,
  /** The run was stopped (the API refused the key); running again after fixing it resumes. */
  runStopped: 3,
  /** The run reached its max_cost: the items not sent have `skipped` lines. */
  costCapped: 4,
  /** The run is complete but has `failed`, `incomplete` or `invalid_output` lines (`--allow-failures`: 0). */
  failedLines: 5,
  /** The API could not be reached or answered only errors: the run stopped early; running again resumes. */
  apiUnavailable: 6,
  /** The run's state in Redis vanished mid-run: the run stopped; running again resumes from the results file. */
  stateLost: 7,
  /** A batch or auto run met an API without a batch endpoint: the run stopped; `--mode online` or `flex` resumes it. */
  noBatchApi: 8,
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
