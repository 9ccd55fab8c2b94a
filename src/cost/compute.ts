/**
 * Cost of one line from its own usage. Pure integer arithmetic: prices are pico-dollars per token,
 * each part is rounded once to nano-dollars, and the total is the sum of the rounded parts, so a
 * report that adds up line costs (as nano-dollars) gets exactly the sum of what the lines say.
 */
import type { LineCost } from '../core/output-line.js';
import type { ModelPrice, TierRates } from './prices.js';
import { ratesFor, STANDARD_TIER, tierName } from './tiers.js';

export type { LineCost };

export const NANOS_PER_USD = 1_000_000_000;
const PICOS_PER_NANO = 1000;

export interface UsageCounts {
  input: number;
  cached: number;
  output: number;
  reasoning: number;
}

/** Token counts of a usage object as the API sent it; missing or broken numbers count as 0. */
export function usageCounts(usage: unknown): UsageCounts | null {
  if (typeof usage !== 'object' || usage === null) return null;
  const u = usage as Record<string, unknown>;
  const details = (v: unknown, key: string) => (typeof v === 'object' && v !== null ? count((v as Record<string, unknown>)[key]) : 0);
  const input = count(u['input_tokens']);
  return {
    input,
    // Cached tokens are part of input_tokens; more cached than input is a broken usage, capped.
    cached: Math.min(details(u['input_tokens_details'], 'cached_tokens'), input),
    output: count(u['output_tokens']),
    reasoning: details(u['output_tokens_details'], 'reasoning_tokens'),
  };
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/** Routers that bill themselves (OpenRouter and others) put the charge in `usage.cost`, in USD. */
export function reportedCost(usage: unknown): number | null {
  if (typeof usage !== 'object' || usage === null) return null;
  const c = (usage as Record<string, unknown>)['cost'];
  return typeof c === 'number' && Number.isFinite(c) && c >= 0 ? c : null;
}

/** Nano-dollars, rounded half up. */
function picoToNano(pico: number): number {
  return Math.floor((pico + PICOS_PER_NANO / 2) / PICOS_PER_NANO);
}

export function usdToNanos(usd: number): number {
  return Math.round(usd * NANOS_PER_USD);
}

export function nanosToUsd(nanos: number): number {
  return nanos / NANOS_PER_USD;
}

export interface CostNanos {
  input: number;
  cachedInput: number;
  output: number;
  total: number;
}

/** Cost of token counts at a price (a model's standard rates, or one tier's), in nano-dollars. */
export function costNanos(tokens: { input: number; cached: number; output: number }, price: TierRates): CostNanos {
  const uncached = Math.max(0, tokens.input - tokens.cached);
  const input = picoToNano(uncached * price.input);
  const cachedInput = picoToNano(tokens.cached * price.cachedInput);
  const output = picoToNano(tokens.output * price.output);
  return { input, cachedInput, output, total: input + cachedInput + output };
}

/**
 * The `cost` of a line with this usage, served at `serviceTier` (the response's `service_tier`, or
 * `batch`; see ./tiers.ts): what the API reported when it did (preferred: it is what was billed),
 * else the price table's rates for that tier. A line not served at the standard tier also records
 * what the same usage costs at the standard price (`standard_total`, what reports count as saved),
 * and `no_tier_price` when the table has no price for its tier (it is then priced at the standard
 * rates). Null when there is no usage, or no price for the model.
 */
export function lineCost(usage: unknown, price: ModelPrice | null, serviceTier?: unknown): LineCost | null {
  const tier = tierName(serviceTier);
  const tokens = usageCounts(usage);
  const standard = tier !== STANDARD_TIER && tokens && price ? { standard_total: nanosToUsd(costNanos(tokens, price).total) } : {};
  const reported = reportedCost(usage);
  if (reported !== null) {
    return { input: null, cached_input: null, output: null, total: nanosToUsd(usdToNanos(reported)), currency: 'USD', source: 'api', tier, ...standard };
  }
  if (!tokens || !price) return null;
  const { rates, tierPriced } = ratesFor(price, tier);
  const c = costNanos(tokens, rates);
  return {
    input: nanosToUsd(c.input),
    cached_input: nanosToUsd(c.cachedInput),
    output: nanosToUsd(c.output),
    total: nanosToUsd(c.total),
    currency: 'USD',
    source: 'price_table',
    tier,
    ...standard,
    ...(tierPriced ? {} : { no_tier_price: true as const }),
  };
}

/** A line's `cost.total` back in nano-dollars (what reports add up), or null when it has none. */
export function lineTotalNanos(cost: unknown): number | null {
  if (typeof cost !== 'object' || cost === null) return null;
  const t = (cost as Record<string, unknown>)['total'];
  return typeof t === 'number' && Number.isFinite(t) ? usdToNanos(t) : null;
}

/**
 * The one way respool prints money for people (run summary, status, estimate, report):
 * `$1,234.56`; amounts under a cent keep 2 significant digits (`$0.0042`); zero is `$0.00`.
 * `unknown` only when the amount is not known (null: lines with usage but no price, nothing priced).
 */
export function formatUsd(nanos: number | null): string {
  if (nanos === null || !Number.isFinite(nanos)) return 'unknown';
  // A negative amount (priority's saving against the standard price) is `-$0.15`, not `$-0.15`.
  if (nanos < 0) return `-${formatUsd(-nanos)}`;
  const usd = nanos / NANOS_PER_USD;
  if (nanos !== 0 && Math.abs(usd) < 0.01) return `$${usd.toLocaleString('en-US', { maximumSignificantDigits: 2 })}`;
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** Plain decimal USD with up to 9 decimals, for machine formats (csv, json). */
export function usdString(nanos: number): string {
  const sign = nanos < 0 ? '-' : '';
  const abs = Math.abs(nanos);
  const whole = Math.floor(abs / NANOS_PER_USD);
  const frac = String(abs % NANOS_PER_USD).padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}
