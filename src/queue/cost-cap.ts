import type { Redis } from 'ioredis';
import { runKeys } from './keys.js';
import { luaCommands } from './lua-commands.js';

/**
 * A run's budget cap (`max_cost`), shared by every worker process through one Redis hash: what was
 * spent, what the calls in flight may cost (their estimates, reserved before each call), and whether
 * the cap was reached. All amounts are integer nano-dollars. A call is admitted only while
 * spent + reserved + its own estimate stays within the cap. When only the calls in flight stand in the
 * way, the worker waits for them to settle (estimates are high, so they usually leave room); when
 * spent + its estimate alone would pass the cap, the run is marked capped and from then on every item
 * of the run is skipped. So the run overshoots at most by what the calls in flight cost beyond their
 * estimates.
 */

export interface CapKeys {
  /** hash: spent, reserved, capped (the cap it was reached at), l:<lease> -> reserved amount */
  spend: string;
  /** zset: lease -> expiry; a dead worker's reservation lapses instead of holding the cap forever */
  leases: string;
}

export function capKeys(run: string, prefix?: string): CapKeys {
  const keys = runKeys(run, prefix);
  return { spend: keys.spend, leases: keys.spendLeases };
}

/** Longer than any one call with its 429 waits; only a dead worker's reservation gets this old. */
const LEASE_MS = 30 * 60_000;

interface CapCommands {
  respoolCostReserve(spend: string, leases: string, ...args: string[]): Promise<[number, number, number]>;
  respoolCostSettle(spend: string, leases: string, ...args: string[]): Promise<number>;
}

function commands(redis: Redis): CapCommands {
  return luaCommands<CapCommands>(redis, {
    respoolCostReserve: { file: 'costReserve' },
    respoolCostSettle: { file: 'costSettle' },
  });
}

export interface ReserveResult {
  /** `wait`: it would fit once the calls in flight have settled; ask again shortly. */
  outcome: 'granted' | 'capped' | 'wait';
  spentNanos: number;
  reservedNanos: number;
}

export class CostCap {
  private readonly keys: CapKeys;
  constructor(
    private readonly redis: Redis,
    run: string,
    readonly capNanos: number,
    prefix?: string,
    /** How long a reservation outlives a worker that died holding it. */
    private readonly leaseMs = LEASE_MS,
  ) {
    this.keys = capKeys(run, prefix);
  }

  async reserve(lease: string, estimateNanos: number): Promise<ReserveResult> {
    const [granted, spent, reserved] = await commands(this.redis).respoolCostReserve(
      this.keys.spend,
      this.keys.leases,
      lease,
      String(Math.max(0, Math.ceil(estimateNanos))),
      String(Math.floor(this.capNanos)),
      String(this.leaseMs),
    );
    const outcome = granted === 1 ? 'granted' : granted === 2 ? 'wait' : 'capped';
    return { outcome, spentNanos: Number(spent), reservedNanos: Number(reserved) };
  }

  async settle(lease: string, actualNanos: number): Promise<void> {
    await commands(this.redis).respoolCostSettle(this.keys.spend, this.keys.leases, lease, String(Math.max(0, Math.round(actualNanos))));
  }
}

export interface SpendState {
  spentNanos: number;
  reservedNanos: number;
  /** The cap (nano-dollars) the run was stopped at, or null. */
  cappedAtNanos: number | null;
}

export async function readSpend(redis: Redis, run: string, prefix?: string): Promise<SpendState> {
  const [spent, reserved, capped] = await redis.hmget(capKeys(run, prefix).spend, 'spent', 'reserved', 'capped');
  return { spentNanos: Number(spent ?? 0), reservedNanos: Number(reserved ?? 0), cappedAtNanos: capped === null ? null : Number(capped) };
}
