import { estimateRequestTokens } from './token-estimate.js';
import { costNanos, lineCost, reportedCost, usdToNanos, type LineCost } from './compute.js';
import { findPrice, type ModelPrice, type PriceTable } from './prices.js';
import { ratesFor, STANDARD_TIER, tierName } from './tiers.js';

/**
 * Prices lines for one price table, and says once per model when it cannot: an unknown model gets
 * `cost: null` and one warning, never a silent zero. Pure apart from the `warn` callback.
 */
export class Pricer {
  private readonly warned = new Set<string>();
  private readonly cache = new Map<string, ModelPrice | null>();

  constructor(
    private readonly table: PriceTable,
    private readonly warn: (message: string) => void = () => {},
  ) {}

  priceOf(model: string): ModelPrice | null {
    let p = this.cache.get(model);
    if (p === undefined) {
      p = findPrice(this.table, model);
      this.cache.set(model, p);
    }
    return p;
  }

  /**
   * The `cost` of a line of `model` with this usage, served at `serviceTier` (the response's
   * `service_tier`, or `batch`; see compute.ts `lineCost`).
   */
  costOf(model: string | null, usage: unknown, serviceTier?: unknown): LineCost | null {
    if (usage === null || usage === undefined) return null;
    const price = model === null ? null : this.priceOf(model);
    const cost = lineCost(usage, price, serviceTier);
    if (cost === null) this.unknown(model);
    else if (cost.no_tier_price) this.noTierPrice(price!.model, cost.tier!);
    return cost;
  }

  private noTierPrice(model: string, tier: string): void {
    const key = `${model}\0${tier}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(`no ${tier} price for model ${JSON.stringify(model)}: its ${tier} lines are priced at the standard price, marked "no_tier_price" (add a "${tier}" price to a price file: docs/cost.md)`);
  }

  private unknown(model: string | null): void {
    const name = model ?? '(no model)';
    if (this.warned.has(name)) return;
    this.warned.add(name);
    this.warn(`no price for model ${JSON.stringify(name)}: its lines get "cost": null (add it to a price file: docs/cost.md)`);
  }

  /**
   * What a call with this body may cost at most, in nano-dollars, from the same token estimate the
   * rate limiter reserves (its output part is max_output_tokens, else the expected output). Null when
   * the model has no price. `tier`: the tier the call will be billed at; a flex call can fall back
   * to the default tier, so its reservation is best made at `standard` (the default).
   */
  estimateCallNanos(model: string, body: Record<string, unknown>, expectedOutputTokens?: number, tier: string = STANDARD_TIER): number | null {
    const price = this.priceOf(model);
    if (!price) {
      this.unknown(model);
      return null;
    }
    const est = estimateRequestTokens(body, expectedOutputTokens === undefined ? {} : { expectedOutputTokens });
    return costNanos({ input: est.input, cached: 0, output: est.output }, ratesFor(price, tierName(tier)).rates).total;
  }

  /**
   * What a call cost, in nano-dollars: the API's reported cost, else its usage at the table's price
   * for the tier that served it (`serviceTier`, as the response says), else 0.
   */
  actualCallNanos(model: string, usage: unknown, serviceTier?: unknown): number {
    const reported = reportedCost(usage);
    if (reported !== null) return usdToNanos(reported);
    const cost = this.costOf(model, usage, serviceTier);
    return cost ? usdToNanos(cost.total) : 0;
  }
}
