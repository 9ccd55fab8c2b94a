import { formatUsd } from '../cost/compute.js';
import { readCostCapReached } from '../pipeline/outcome.js';
import { EXIT, ExitError } from './exit.js';
import type { Session } from './session.js';

/** A complete run that reached its max_cost exits with code 4, saying what it spent. */
export async function failIfCapped(session: Session, run: string, maxCost: number | undefined): Promise<void> {
  const capped = await readCostCapReached(session.redis, run, maxCost, session.prefix);
  if (!capped) return;
  throw new ExitError(
    `run ${run} reached its max_cost of ${formatUsd(capped.cappedAtNanos)} (spent ${formatUsd(capped.spentNanos)}): the items not sent have "skipped" lines; raise max_cost and use a new run name to do them`,
    EXIT.costCapped,
  );
}
