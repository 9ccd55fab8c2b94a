/**
 * The budget cap (`max_cost`) around one call, kept out of the processor's main path: reserve what
 * the call may cost before it, settle what it did cost after it. An item not sent because the cap
 * was reached gets a `skipped` line (../core/results-line.ts).
 */

export interface CostReservation {
  /** Replaces the reservation by the call's real cost (from the response's usage; none costs 0). */
  settle(responseJson: unknown): Promise<void>;
}

/** `skip`: the cap is reached; the item is not sent and gets a `skipped` line with this message. */
export type CostDecision = CostReservation | { skip: string };

/** Runs the call within a reservation (if any), settling it whatever the call's outcome. */
export async function withinCost<T extends { json: unknown }>(reservation: CostDecision | undefined, call: () => Promise<T>): Promise<T> {
  if (!reservation || 'skip' in reservation) return call();
  let res: T;
  try {
    res = await call();
  } catch (err) {
    // An error answer bills nothing we can see; a failed response with usage is a 2xx and lands below.
    await reservation.settle(null);
    throw err;
  }
  await reservation.settle(res.json);
  return res;
}
