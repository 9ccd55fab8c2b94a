/**
 * Which tier served a line, and at which rates it is priced. Pure.
 *
 * A line is priced by the tier that answered (the response's `service_tier`, or `batch` for a line
 * that came back from a provider batch), never by the tier that was asked for: a flex request can be
 * served at the default tier, and some providers use the same word for other prices. docs/cost.md.
 */
import { PRICED_TIERS, type ModelPrice, type PricedTier, type TierRates } from './prices.js';

/** The tier of the entry's own rates: what `default`, `auto` or no `service_tier` at all is billed at. */
export const STANDARD_TIER = 'standard';

/**
 * The name a line's cost records for a `service_tier` as the API sent it: `standard` for `default`,
 * `auto` or none (an `auto` answer that says nothing else was served at the default tier), else the
 * tier's own name (`flex`, `batch`, `priority`, or one respool has no prices for, such as `scale`).
 */
export function tierName(serviceTier: unknown): string {
  if (typeof serviceTier !== 'string') return STANDARD_TIER;
  const t = serviceTier.trim().toLowerCase();
  return t === '' || t === 'default' || t === 'auto' ? STANDARD_TIER : t;
}

export function isPricedTier(tier: string): tier is PricedTier {
  return (PRICED_TIERS as readonly string[]).includes(tier);
}

export interface TierPricing {
  rates: TierRates;
  /**
   * False when the line was served at a tier the table has no price for (for this model), and is
   * priced at the standard rates instead: an upper bound for batch and flex, which cost less, and a
   * lower one for priority. Reports name such lines.
   */
  tierPriced: boolean;
}

/** The rates a line served at `tier` is priced at. */
export function ratesFor(price: ModelPrice, tier: string): TierPricing {
  if (tier === STANDARD_TIER) return { rates: price, tierPriced: true };
  const rates = isPricedTier(tier) ? price.tiers[tier] : undefined;
  return rates ? { rates, tierPriced: true } : { rates: price, tierPriced: false };
}
