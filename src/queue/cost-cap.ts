import type { Redis } from 'ioredis';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
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

export function capKeys(run: string, prefix = QUEUE_DEFAULTS.prefix): CapKeys {
  const base = `${prefix}:run:${run}`;
  return { spend: `${base}:spend`, leases: `${base}:spend:leases` };
}

/** Longer than any one call with its 429 waits; only a dead worker's reservation gets this old. */
const LEASE_MS = 30 * 60_000;

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(field)
  return tonumber(redis.call('HGET', KEYS[1], field) or '0')
end
local function release(lease)
  local a = redis.call('HGET', KEYS[1], 'l:' .. lease)
  if a then
    redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(a))
    redis.call('HDEL', KEYS[1], 'l:' .. lease)
  end
  redis.call('ZREM', KEYS[2], lease)
end
`;

// ARGV: lease, estimate, cap, lease ms. Returns {1 granted | 0 capped | 2 wait for the calls in flight, spent, reserved}.
const RESERVE_LUA = `${PRELUDE}
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do release(lease) end
local cap = ARGV[3]
local spent, reserved = num('spent'), num('reserved')
-- Once reached, the cap stays reached (for this cap: a run enqueued again with another max_cost goes on).
if redis.call('HGET', KEYS[1], 'capped') == cap then return {0, spent, reserved} end
local est = tonumber(ARGV[2])
if spent + est > tonumber(cap) then
  redis.call('HSET', KEYS[1], 'capped', cap)
  return {0, spent, reserved}
end
if spent + reserved + est > tonumber(cap) then return {2, spent, reserved} end
redis.call('HINCRBY', KEYS[1], 'reserved', est)
redis.call('HSET', KEYS[1], 'l:' .. ARGV[1], est)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
return {1, spent, reserved + est}
`;

// ARGV: lease, actual cost. The reservation is replaced by what the call cost.
const SETTLE_LUA = `${PRELUDE}
release(ARGV[1])
redis.call('HINCRBY', KEYS[1], 'spent', tonumber(ARGV[2]))
return num('spent')
`;

interface CapCommands {
  respoolCostReserve(spend: string, leases: string, ...args: string[]): Promise<[number, number, number]>;
  respoolCostSettle(spend: string, leases: string, ...args: string[]): Promise<number>;
}

function commands(redis: Redis): CapCommands {
  return luaCommands<CapCommands>(redis, {
    respoolCostReserve: { keys: 2, lua: RESERVE_LUA },
    respoolCostSettle: { keys: 2, lua: SETTLE_LUA },
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

export async function deleteSpend(redis: Redis, run: string, prefix?: string): Promise<void> {
  const k = capKeys(run, prefix);
  await redis.del(k.spend, k.leases);
}
