/**
 * `respool estimate`: what a run will cost, before it runs. Pure: the command feeds it the requests
 * it would send (and, with --sample, the usage of a few real calls) and it works out a range per
 * model.
 *
 * - Input tokens come from the rate limiter's estimator (src/worker/limits/estimate.ts), which counts
 *   3 UTF-8 bytes per token: high for English text (about 4 characters a token), so the low end of a
 *   range counts 3/4 of it.
 * - Output tokens: without a sample, a range from nothing to `max_output_tokens` per item (or the
 *   expected output when that is not set, which is then no upper bound). With a sample, the mean
 *   cost per sampled item times the items, plus or minus two standard errors.
 */
import { costNanos, usageCounts, type UsageCounts } from './compute.js';
import type { ModelPrice } from './prices.js';

export interface ModelEstimate {
  model: string;
  items: number;
  inputTokens: number;
  /** Output tokens counted per item: max_output_tokens, or the expected output. */
  outputTokens: number;
  /** Items whose output count is their max_output_tokens (a real upper bound). */
  outputBounded: number;
  sample: { calls: number; failed: number; costs: number[]; tokens: UsageCounts } | null;
}

export interface EstimateRange {
  lowNanos: number;
  highNanos: number;
  basis: 'tokens' | 'sample';
}

export class EstimateAccumulator {
  readonly models = new Map<string, ModelEstimate>();
  rejected = 0;

  private get(model: string): ModelEstimate {
    let m = this.models.get(model);
    if (!m) {
      m = { model, items: 0, inputTokens: 0, outputTokens: 0, outputBounded: 0, sample: null };
      this.models.set(model, m);
    }
    return m;
  }

  addItem(model: string, estimate: { input: number; output: number }, bounded: boolean): void {
    const m = this.get(model);
    m.items++;
    m.inputTokens += estimate.input;
    m.outputTokens += estimate.output;
    if (bounded) m.outputBounded++;
  }

  /** One sampled call: its usage (null when it failed) and the cost of that usage, in nano-dollars. */
  addSample(model: string, usage: unknown, costNanosOfCall: number | null): void {
    const m = this.get(model);
    m.sample ??= { calls: 0, failed: 0, costs: [], tokens: { input: 0, cached: 0, output: 0, reasoning: 0 } };
    m.sample.calls++;
    const u = usageCounts(usage);
    if (!u || costNanosOfCall === null) {
      m.sample.failed++;
      if (u) addCounts(m.sample.tokens, u);
      return;
    }
    addCounts(m.sample.tokens, u);
    m.sample.costs.push(costNanosOfCall);
  }
}

function addCounts(to: UsageCounts, u: UsageCounts): void {
  to.input += u.input;
  to.cached += u.cached;
  to.output += u.output;
  to.reasoning += u.reasoning;
}

/** The cost range of one model's items, or null when the model has no price and no sample cost. */
export function rangeFor(m: ModelEstimate, price: ModelPrice | null): EstimateRange | null {
  const costs = m.sample?.costs ?? [];
  if (costs.length > 0) {
    const n = costs.length;
    const mean = costs.reduce((a, b) => a + b, 0) / n;
    const variance = n > 1 ? costs.reduce((a, c) => a + (c - mean) ** 2, 0) / (n - 1) : 0;
    const halfWidth = 2 * Math.sqrt(variance / n);
    return { lowNanos: Math.max(0, Math.round(m.items * (mean - halfWidth))), highNanos: Math.round(m.items * (mean + halfWidth)), basis: 'sample' };
  }
  if (!price) return null;
  const low = costNanos({ input: Math.floor((m.inputTokens * 3) / 4), cached: 0, output: 0 }, price).total;
  const high = costNanos({ input: m.inputTokens, cached: 0, output: m.outputTokens }, price).total;
  return { lowNanos: low, highNanos: high, basis: 'tokens' };
}
