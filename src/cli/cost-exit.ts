import { readSpend } from '../queue/cost-cap.js';
import { formatUsd, usdToNanos } from '../cost/compute.js';
import { EXIT, ExitError } from './exit.js';
import type { Session } from './session.js';

/** A complete run that reached its max_cost exits with code 4, saying what it spent. */
export async function failIfCapped(session: Session, run: string, maxCost: number | undefined): Promise<void> {
  if (maxCost === undefined) return;
  const spend = await readSpend(session.redis, run, session.prefix);
  if (spend.cappedAtNanos === null || spend.cappedAtNanos !== usdToNanos(maxCost)) return;
  throw new ExitError(
    `run ${run} reached its max_cost of ${formatUsd(spend.cappedAtNanos)} (spent ${formatUsd(spend.spentNanos)}): the items not sent have "skipped" lines; raise max_cost and use a new run name to do them`,
    EXIT.costCapped,
  );
}
