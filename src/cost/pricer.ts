import { estimateRequestTokens } from './token-estimate.js';
import { costNanos, lineCost, reportedCost, usdToNanos, type LineCost } from './compute.js';
import { findPrice, type ModelPrice, type PriceTable } from './prices.js';

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

  /** The `cost` of a line of `model` with this usage (see compute.ts `lineCost`). */
  costOf(model: string | null, usage: unknown): LineCost | null {
    if (usage === null || usage === undefined) return null;
    const price = model === null ? null : this.priceOf(model);
    const cost = lineCost(usage, price);
    if (cost === null) this.unknown(model);
    return cost;
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
   * the model has no price.
   */
  estimateCallNanos(model: string, body: Record<string, unknown>, expectedOutputTokens?: number): number | null {
    const price = this.priceOf(model);
    if (!price) {
      this.unknown(model);
      return null;
    }
    const est = estimateRequestTokens(body, expectedOutputTokens === undefined ? {} : { expectedOutputTokens });
    return costNanos({ input: est.input, cached: 0, output: est.output }, price).total;
  }

  /** What a call cost, in nano-dollars: the API's reported cost, else its usage at the table's price, else 0. */
  actualCallNanos(model: string, usage: unknown): number {
    const reported = reportedCost(usage);
    if (reported !== null) return usdToNanos(reported);
    const cost = this.costOf(model, usage);
    return cost ? usdToNanos(cost.total) : 0;
  }
}
