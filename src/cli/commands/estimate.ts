import { Option, type Command } from 'commander';
import { formatUsd, nanosToUsd, usdToNanos } from '../../cost/compute.js';
import { callsPerItem, EstimateAccumulator, rangeFor } from '../../cost/run-estimate.js';
import { loadPrices } from '../../cost/load-prices.js';
import { Pricer } from '../../cost/pricer.js';
import { describeSource } from '../../core/item.js';
import { readInputs, readOptionsFor } from '../../inputs/index.js';
import { settingsFromConfig } from '../../queue/run-meta.js';
import { OpenResponsesClient } from '../../worker/client.js';
import { prepareCall, type PreparedCall } from '../../worker/prepare-call.js';
import { EXIT, ExitError } from '../exit.js';
import { addJobFlags, configFromFlags } from '../job-flags.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ExitError(`--probe must be a whole number of at least 1, got ${JSON.stringify(v)}`, EXIT.badConfig);
  return n;
}

/** `--sample` once meant --probe and read as --samples: it now only says which one to use. */
const SAMPLE_FLAG_GONE =
  '--sample is ambiguous and no longer accepted: use --probe N to call the API for the first N items and extrapolate from what they cost, or --samples N for the job setting samples (answers asked per item, put to a vote)';

/** Rejected items printed in the table; `--json` lists them all. */
const REJECTED_SHOWN = 20;

/** `respool estimate`: reads the inputs (no Redis), counts items and tokens, prints a cost range per model. */
export function registerEstimate(program: Command): void {
  addJobFlags(program.command('estimate').description('what a run would cost, samples and re-asks included: reads the inputs without calling the API (or, with --probe N, calls it for N items)'))
    .option('--probe <n>', 'call the API for the first N items (one call each, billed) and extrapolate from what they cost')
    .addOption(new Option('--sample <n>').hideHelp())
    .option('--json', 'print JSON')
    .action(async (jobfile: string | undefined, flags: Record<string, unknown>) => {
      if (flags.sample !== undefined) throw new ExitError(SAMPLE_FLAG_GONE, EXIT.badConfig);
      const config = await configFromFlags(jobfile, flags);
      const probeSize = flags.probe === undefined ? 0 : positiveInt(String(flags.probe));
      const warnings: string[] = [];
      const pricer = new Pricer(await loadPrices(config.prices), (m) => warnings.push(m));
      const settings = settingsFromConfig(config);
      const acc = new EstimateAccumulator();
      const probes: Array<{ model: string; body: Record<string, unknown> }> = [];
      // Read and prepared as a run would (image roots, separator, conversion, downscaling), so that the
      // items and their token estimates are the ones the run would send.
      const outcomes = readInputs(config.inputs, readOptionsFor(config, process.cwd()));
      for await (const o of outcomes) {
        if (o.type === 'rejected') {
          acc.addRejected({ custom_id: o.rejection.customId, source: describeSource(o.rejection.source), reason: o.rejection.reason });
          continue;
        }
        // The call the worker would make: the same body, model and token estimate.
        let call: PreparedCall;
        try {
          call = await prepareCall(o.item.request, settings);
        } catch (err) {
          acc.addRejected({ custom_id: o.item.customId, source: describeSource(o.item.source), reason: (err as Error).message });
          continue;
        }
        const { body, model } = call;
        // Batch-style lines are sent as they are, without the run's samples and re-asks (as the worker does).
        const plan = o.item.request.kind === 'body' ? undefined : settings.structured;
        acc.addItem(model, call.tokens, typeof body.max_output_tokens === 'number', callsPerItem(plan));
        if (probes.length < probeSize) probes.push({ model, body });
      }

      if (probes.length > 0) {
        const client = new OpenResponsesClient({ baseUrl: config.base_url, apiKey: process.env.OPENRESPONSES_API_KEY, timeoutMs: config.timeout_ms });
        let next = 0;
        const callOne = async () => {
          for (let i = next++; i < probes.length; i = next++) {
            const { model, body } = probes[i]!;
            try {
              const res = await client.createResponse(body);
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
      if (flags.json) {
        process.stdout.write(
          JSON.stringify(
            {
              items: rows.reduce((n, r) => n + r.m.items, 0),
              rejected: acc.rejected.length,
              rejected_items: acc.rejected,
              models: rows.map(({ m, price, range }) => ({
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
              warnings,
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      const items = rows.reduce((n, r) => n + r.m.items, 0);
      const rejected = acc.rejected.length;
      const out = [`${items} items${rejected > 0 ? `, ${rejected} rejected (listed below)` : ''}, ${rows.length} model${rows.length === 1 ? '' : 's'}`];
      const head = ['model', 'items', 'calls/item', 'input tokens (est.)', 'output tokens', 'USD per 1M in / out', 'cost'];
      const table = rows.map(({ m, price, range }) => [
        m.model,
        m.items.toLocaleString('en-US'),
        callsText(m),
        m.inputTokens.toLocaleString('en-US'),
        m.probe && m.probe.costs.length > 0
          ? `${Math.round(m.probe.tokens.output / Math.max(1, m.probe.calls - m.probe.failed)).toLocaleString('en-US')}/call (probe of ${m.probe.costs.length})`
          : `${m.outputBounded === m.items ? 'up to' : 'about'} ${Math.round(m.outputTokens / Math.max(1, m.calls)).toLocaleString('en-US')}/call`,
        price ? `${perMillion(price.input)} / ${perMillion(price.output)}` : 'no price',
        formatUsdRange(range),
      ]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
      const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
      out.push('', fmt(head), ...table.map(fmt));
      const known = rows.filter((r) => r.range);
      if (known.length > 1) {
        out.push('', `total: ${formatUsdRange({ lowNanos: known.reduce((n, r) => n + r.range!.lowNanos, 0), highNanos: known.reduce((n, r) => n + r.range!.highNanos, 0) })}${known.length < rows.length ? ' (models without a price left out)' : ''}`);
      }
      if (rows.some((r) => r.range?.basis === 'tokens')) {
        out.push(
          '',
          'Range without a probe: from the input alone (at 4 characters a token) to input plus the output counted per call' +
            (rows.some((r) => r.m.outputBounded < r.m.items) ? ' (max_output_tokens where set; else the expected output, which is no upper bound)' : ' (max_output_tokens)') +
            '. --probe N calls the API for N items and extrapolates.',
        );
      }
      if (rows.some((r) => r.m.maxCalls > r.m.items)) {
        out.push(`Calls: one per sample (samples: ${config.samples}); the upper end also counts every re-ask of an answer that does not match the schema (invalid_output_retries: ${config.invalid_output_retries}).`);
      }
      if (rejected > 0) {
        out.push('', `Rejected (the run writes a "rejected" line for each, and calls nothing):`);
        for (const r of acc.rejected.slice(0, REJECTED_SHOWN)) out.push(`  ${r.source} (${r.custom_id}): ${r.reason}`);
        if (rejected > REJECTED_SHOWN) out.push(`  ... and ${rejected - REJECTED_SHOWN} more (--json lists them all)`);
      }
      for (const w of warnings) out.push(`note: ${w}`);
      process.stdout.write(out.join('\n') + '\n');
    });
}

/** `3`, or `3 (up to 9 with re-asks)`: the calls of one item, on average over the model's items. */
function callsText(m: { items: number; calls: number; maxCalls: number }): string {
  const per = (n: number) => (n / Math.max(1, m.items)).toLocaleString('en-US', { maximumFractionDigits: 1 });
  return m.maxCalls > m.calls ? `${per(m.calls)} (up to ${per(m.maxCalls)} with re-asks)` : per(m.calls);
}

function formatUsdRange(range: { lowNanos: number; highNanos: number } | null): string {
  return range ? `${formatUsd(range.lowNanos)} – ${formatUsd(range.highNanos)}` : formatUsd(null);
}

/** A price in pico-dollars per token as USD per 1M tokens: `$0.075`, `$10.00`. */
function perMillion(pico: number): string {
  return `$${(pico / 1e6).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;
}
