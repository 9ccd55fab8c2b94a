/**
 * `respool estimate`: what a run will cost, before it runs. Pure: the command feeds it the requests
 * it would send (and, with --probe, the usage of a few real calls) and it works out a range per
 * model.
 *
 * - Input tokens come from the rate limiter's estimator (src/cost/token-estimate.ts), which counts
 *   3 UTF-8 bytes per token: high for English text (about 4 characters a token), so the low end of a
 *   range counts 3/4 of it.
 * - Output tokens: without a probe, a range from nothing to `max_output_tokens` per call (or the
 *   expected output when that is not set, which is then no upper bound). With a probe, the mean
 *   cost per probe call times the calls, plus or minus two standard errors.
 * - Calls: a structured item makes one call per sample (`samples`), and each sample is asked again
 *   up to `invalid_output_retries` times while its answer does not match the schema. The low end
 *   counts one call per sample; the high end counts every re-ask, so a run cannot pass it on calls.
 */
import { costNanos, usageCounts, type UsageCounts } from './compute.js';
import type { ModelPrice } from './prices.js';

/** Calls one item makes: one per sample, and at most that many times (1 + re-asks) when every answer is invalid. */
export interface CallsPerItem {
  calls: number;
  maxCalls: number;
}

/** The calls of an item of a run with `samples` and `invalid_output_retries` (1 and 0 without a schema). */
export function callsPerItem(plan: { samples: number; invalidRetries: number } | undefined): CallsPerItem {
  const calls = plan?.samples ?? 1;
  return { calls, maxCalls: calls * (1 + (plan?.invalidRetries ?? 0)) };
}

export interface ModelEstimate {
  model: string;
  items: number;
  /** Calls without re-asks (one per sample), and with every re-ask. */
  calls: number;
  maxCalls: number;
  /** Input tokens of the calls without re-asks (an item's estimate times its samples). */
  inputTokens: number;
  /** Output tokens counted for those calls: max_output_tokens, or the expected output, per call. */
  outputTokens: number;
  /** The same with every re-ask: what the upper end of the range counts. */
  maxInputTokens: number;
  maxOutputTokens: number;
  /** Items whose output count is their max_output_tokens (a real upper bound). */
  outputBounded: number;
  probe: { calls: number; failed: number; costs: number[]; tokens: UsageCounts } | null;
}

export interface EstimateRange {
  lowNanos: number;
  highNanos: number;
  basis: 'tokens' | 'probe';
}

/** An item the run would write as `rejected` (bad input, or a request that cannot be built), and why. */
export interface RejectedItem {
  custom_id: string;
  /** `file:line`, or the image's path. */
  source: string;
  reason: string;
}

export class EstimateAccumulator {
  readonly models = new Map<string, ModelEstimate>();
  readonly rejected: RejectedItem[] = [];

  private get(model: string): ModelEstimate {
    let m = this.models.get(model);
    if (!m) {
      m = { model, items: 0, calls: 0, maxCalls: 0, inputTokens: 0, outputTokens: 0, maxInputTokens: 0, maxOutputTokens: 0, outputBounded: 0, probe: null };
      this.models.set(model, m);
    }
    return m;
  }

  /** One item: the estimate of one of its calls, and how many calls it makes. */
  addItem(model: string, estimate: { input: number; output: number }, bounded: boolean, perItem: CallsPerItem = { calls: 1, maxCalls: 1 }): void {
    const m = this.get(model);
    m.items++;
    m.calls += perItem.calls;
    m.maxCalls += perItem.maxCalls;
    m.inputTokens += estimate.input * perItem.calls;
    m.outputTokens += estimate.output * perItem.calls;
    m.maxInputTokens += estimate.input * perItem.maxCalls;
    m.maxOutputTokens += estimate.output * perItem.maxCalls;
    if (bounded) m.outputBounded++;
  }

  addRejected(item: RejectedItem): void {
    this.rejected.push(item);
  }

  /** One probe call: its usage (null when it failed) and the cost of that usage, in nano-dollars. */
  addProbe(model: string, usage: unknown, costNanosOfCall: number | null): void {
    const m = this.get(model);
    m.probe ??= { calls: 0, failed: 0, costs: [], tokens: { input: 0, cached: 0, output: 0, reasoning: 0 } };
    m.probe.calls++;
    const u = usageCounts(usage);
    if (!u || costNanosOfCall === null) {
      m.probe.failed++;
      if (u) addCounts(m.probe.tokens, u);
      return;
    }
    addCounts(m.probe.tokens, u);
    m.probe.costs.push(costNanosOfCall);
  }
}

function addCounts(to: UsageCounts, u: UsageCounts): void {
  to.input += u.input;
  to.cached += u.cached;
  to.output += u.output;
  to.reasoning += u.reasoning;
}

/** The cost range of one model's items, or null when the model has no price and no probe cost. */
export function rangeFor(m: ModelEstimate, price: ModelPrice | null): EstimateRange | null {
  const costs = m.probe?.costs ?? [];
  if (costs.length > 0) {
    const n = costs.length;
    const mean = costs.reduce((a, b) => a + b, 0) / n;
    const variance = n > 1 ? costs.reduce((a, c) => a + (c - mean) ** 2, 0) / (n - 1) : 0;
    const halfWidth = 2 * Math.sqrt(variance / n);
    // Probe calls are single calls: the low end counts one per sample, the high end every re-ask.
    return { lowNanos: Math.max(0, Math.round(m.calls * (mean - halfWidth))), highNanos: Math.round(m.maxCalls * (mean + halfWidth)), basis: 'probe' };
  }
  if (!price) return null;
  const low = costNanos({ input: Math.floor((m.inputTokens * 3) / 4), cached: 0, output: 0 }, price).total;
  const high = costNanos({ input: m.maxInputTokens, cached: 0, output: m.maxOutputTokens }, price).total;
  return { lowNanos: low, highNanos: high, basis: 'tokens' };
}
