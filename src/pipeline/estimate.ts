import { nanosToUsd, usdToNanos } from '../cost/compute.js';
import { callsPerItem, EstimateAccumulator, rangeFor, type EstimateRange, type ModelEstimate, type RejectedItem } from '../cost/run-estimate.js';
import { loadPrices } from '../cost/load-prices.js';
import { Pricer } from '../cost/pricer.js';
import { modesFor, modesJson, type ModesEstimate } from '../cost/mode-report.js';
import type { ModelPrice } from '../cost/prices.js';
import type { JobConfig } from '../config/schema.js';
import { describeSource } from '../core/item.js';
import { readInputs, readOptionsFor } from '../inputs/index.js';
import { settingsFromConfig } from '../queue/run-meta.js';
import { OpenResponsesClient } from '../worker/client.js';
import { prepareCall, type PreparedCall } from '../worker/prepare-call.js';

export interface EstimateOptions {
  /** Folder the job's relative paths are read from. */
  cwd: string;
  /**
   * Call the API for the first N items (one call each, billed) and extrapolate from what they cost.
   * @default 0: no call
   */
  probe?: number;
  /** Key for the probe calls. */
  apiKey?: string;
}

/** One model's items, tokens, price and cost range. */
export interface ModelEstimateRow {
  m: ModelEstimate;
  price: ModelPrice | null;
  range: EstimateRange | null;
}

/** What `estimateRun` found: per model, the rejected items, and notes (missing prices, failed probes). */
export interface EstimateResult {
  rows: ModelEstimateRow[];
  rejected: RejectedItem[];
  warnings: string[];
  /** The cost of each execution mode side by side, and whether an `auto` deadline is reachable. */
  modes: ModesEstimate;
}

/**
 * What a run of `config` would cost, samples and re-asks included: reads the inputs as a run would
 * (no Redis), counts items and tokens per model, and prices them; with `probe`, calls the API for a
 * few items and extrapolates from what they cost.
 */
export async function estimateRun(config: JobConfig, opts: EstimateOptions): Promise<EstimateResult> {
  const probeSize = opts.probe ?? 0;
  const warnings: string[] = [];
  const pricer = new Pricer(await loadPrices(config.prices), (m) => warnings.push(m));
  const settings = settingsFromConfig(config);
  const acc = new EstimateAccumulator();
  const probes: Array<{ model: string; body: Record<string, unknown> }> = [];
  // Read and prepared as a run would (image roots, separator, conversion, downscaling), so that the
  // items and their token estimates are the ones the run would send.
  const outcomes = readInputs(config.inputs, readOptionsFor(config, opts.cwd));
  for await (const o of outcomes) {
    if (o.type === 'rejected') {
      acc.addRejected({ custom_id: o.rejection.customId, source: describeSource(o.rejection.source), reason: o.rejection.reason });
      continue;
    }
    let call: PreparedCall;
    try {
      call = await prepareCall(o.item.request, settings);
    } catch (err) {
      acc.addRejected({ custom_id: o.item.customId, source: describeSource(o.item.source), reason: (err as Error).message });
      continue;
    }
    // The same body, model and token estimate the worker sends and the rate limiter reserves.
    const { body, model, tokens: est } = call;
    // Batch-style lines are sent as they are, without the run's samples and re-asks (as the worker does).
    const plan = o.item.request.kind === 'body' ? undefined : settings.structured;
    acc.addItem(model, est, typeof body.max_output_tokens === 'number', callsPerItem(plan));
    if (probes.length < probeSize) probes.push({ model, body });
  }

  // Seconds each answered probe call took: the call time of the online estimate, when there are some.
  const probeSeconds: number[] = [];
  if (probes.length > 0) {
    const client = new OpenResponsesClient({ baseUrl: config.base_url, apiKey: opts.apiKey, timeoutMs: config.timeout_ms });
    let next = 0;
    const callOne = async () => {
      for (let i = next++; i < probes.length; i = next++) {
        const { model, body } = probes[i]!;
        try {
          const started = performance.now();
          const res = await client.createResponse(body);
          probeSeconds.push((performance.now() - started) / 1000);
          const json = res.json as { usage?: unknown; model?: unknown } | null;
          const cost = pricer.costOf(typeof json?.model === 'string' ? json.model : model, json?.usage ?? null);
          acc.addProbe(model, json?.usage ?? null, cost ? usdToNanos(cost.total) : null);
        } catch (err) {
          warnings.push(`probe call failed: ${(err as Error).message}`);
          acc.addProbe(model, null, null);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, probes.length) }, callOne));
  }
  const rows = [...acc.models.values()].map((m) => ({ m, price: pricer.priceOf(m.model), range: rangeFor(m, pricer.priceOf(m.model)) }));
  const callSeconds = probeSeconds.length > 0 ? probeSeconds.reduce((a, b) => a + b, 0) / probeSeconds.length : undefined;
  const modes = modesFor([...acc.models.values()], (model) => pricer.priceOf(model), config, Date.now(), callSeconds);
  return { rows, rejected: acc.rejected, warnings, modes };
}

/** The estimate as `respool estimate --json` prints it (USD, tokens, per model). Pure. */
export function estimateJson(result: EstimateResult) {
  return {
    items: result.rows.reduce((n, r) => n + r.m.items, 0),
    rejected: result.rejected.length,
    rejected_items: result.rejected,
    models: result.rows.map(({ m, price, range }) => ({
      model: m.model,
      items: m.items,
      calls: m.calls,
      calls_with_reasks: m.maxCalls,
      input_tokens_estimate: m.inputTokens,
      output_tokens_counted: m.outputTokens,
      input_tokens_with_reasks: m.maxInputTokens,
      output_tokens_with_reasks: m.maxOutputTokens,
      output_bounded_items: m.outputBounded,
      price: price && { model: price.model, input_per_million: price.input / 1e6, cached_input_per_million: price.cachedInput / 1e6, output_per_million: price.output / 1e6, as_of: price.asOf, source: price.source },
      probe: m.probe && { calls: m.probe.calls, failed: m.probe.failed, tokens: m.probe.tokens },
      cost_usd: range && { low: nanosToUsd(range.lowNanos), high: nanosToUsd(range.highNanos), basis: range.basis },
    })),
    modes: modesJson(result.modes),
    warnings: result.warnings,
  };
}

/** `estimateJson`'s shape: what `rp.estimate(job)` resolves to. */
export type EstimateReport = ReturnType<typeof estimateJson>;

