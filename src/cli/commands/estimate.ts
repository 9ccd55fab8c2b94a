import type { Command } from 'commander';
import { formatUsd, usdToNanos } from '../../cost/compute.js';
import { EstimateAccumulator, rangeFor } from '../../cost/estimate.js';
import { loadPrices } from '../../cost/load-prices.js';
import { Pricer } from '../../cost/pricer.js';
import type { ImageRef, Item } from '../../core/item.js';
import { readInputs, readOptionsFor } from '../../inputs/index.js';
import { settingsFromConfig, type RunSettings } from '../../queue/run-meta.js';
import { buildRequestBody } from '../../worker/build-request.js';
import { OpenResponsesClient } from '../../worker/client.js';
import { estimateRequestTokens } from '../../worker/limits/estimate.js';
import { resolveImage, toRequestSettings } from '../../worker/processor.js';
import { EXIT, ExitError } from '../exit.js';
import { addJobFlags, configFromFlags } from '../job-flags.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ExitError(`--sample must be a whole number of at least 1, got ${JSON.stringify(v)}`, EXIT.badConfig);
  return n;
}

/** `respool estimate`: reads the inputs (no Redis), counts items and tokens, prints a cost range per model. */
export function registerEstimate(program: Command): void {
  addJobFlags(program.command('estimate').description('what a run would cost: reads the inputs without calling the API (or, with --sample N, calls it for N items)'))
    .option('--sample <n>', 'call the API for the first N items and extrapolate from what they cost')
    .option('--json', 'print JSON')
    .action(async (jobfile: string | undefined, flags: Record<string, unknown>) => {
      const config = await configFromFlags(jobfile, flags);
      const sampleSize = flags.sample === undefined ? 0 : positiveInt(String(flags.sample));
      const warnings: string[] = [];
      const pricer = new Pricer(await loadPrices(config.prices), (m) => warnings.push(m));
      const settings = settingsFromConfig(config);
      const requestSettings = toRequestSettings(settings);
      const acc = new EstimateAccumulator();
      const sample: Array<{ model: string; body: Record<string, unknown> }> = [];
      // Read and prepared as a run would (image roots, separator, conversion, downscaling), so that the
      // items and their token estimates are the ones the run would send.
      const outcomes = readInputs(config.inputs, readOptionsFor(config, process.cwd()));
      for await (const o of outcomes) {
        if (o.type === 'rejected') {
          acc.rejected++;
          continue;
        }
        let body: Record<string, unknown>;
        try {
          body = buildRequestBody(requestSettings, o.item.request, await resolveImages(o.item, settings));
        } catch {
          acc.rejected++;
          continue;
        }
        const model = typeof body.model === 'string' ? body.model : settings.model;
        // The same estimate the rate limiter reserves for the call.
        const est = estimateRequestTokens(body, config.expected_output_tokens === undefined ? {} : { expectedOutputTokens: config.expected_output_tokens });
        acc.addItem(model, est, typeof body.max_output_tokens === 'number');
        if (sample.length < sampleSize) sample.push({ model, body });
      }

      if (sample.length > 0) {
        const client = new OpenResponsesClient({ baseUrl: config.base_url, apiKey: process.env.OPENRESPONSES_API_KEY, timeoutMs: config.timeout_ms });
        let next = 0;
        const callOne = async () => {
          for (let i = next++; i < sample.length; i = next++) {
            const { model, body } = sample[i]!;
            try {
              const res = await client.createResponse(body);
              const json = res.json as { usage?: unknown; model?: unknown } | null;
              const cost = pricer.costOf(typeof json?.model === 'string' ? json.model : model, json?.usage ?? null);
              acc.addSample(model, json?.usage ?? null, cost ? usdToNanos(cost.total) : null);
            } catch (err) {
              warnings.push(`sample call failed: ${(err as Error).message}`);
              acc.addSample(model, null, null);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(4, sample.length) }, callOne));
      }

      const rows = [...acc.models.values()].map((m) => ({ m, price: pricer.priceOf(m.model), range: rangeFor(m, pricer.priceOf(m.model)) }));
      if (flags.json) {
        process.stdout.write(
          JSON.stringify(
            {
              items: rows.reduce((n, r) => n + r.m.items, 0),
              rejected: acc.rejected,
              models: rows.map(({ m, price, range }) => ({
                model: m.model,
                items: m.items,
                input_tokens_estimate: m.inputTokens,
                output_tokens_counted: m.outputTokens,
                output_bounded_items: m.outputBounded,
                price: price && { model: price.model, input_per_million: price.input / 1e6, cached_input_per_million: price.cachedInput / 1e6, output_per_million: price.output / 1e6, as_of: price.asOf, source: price.source },
                sample: m.sample && { calls: m.sample.calls, failed: m.sample.failed, tokens: m.sample.tokens },
                cost_usd: range && { low: range.lowNanos / 1e9, high: range.highNanos / 1e9, basis: range.basis },
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
      const out = [`${items} items${acc.rejected > 0 ? ` (${acc.rejected} more would be rejected)` : ''}, ${rows.length} model${rows.length === 1 ? '' : 's'}`];
      const head = ['model', 'items', 'input tokens (est.)', 'output tokens', 'USD per 1M in / out', 'cost'];
      const table = rows.map(({ m, price, range }) => [
        m.model,
        m.items.toLocaleString('en-US'),
        m.inputTokens.toLocaleString('en-US'),
        m.sample && m.sample.costs.length > 0
          ? `${Math.round(m.sample.tokens.output / Math.max(1, m.sample.calls - m.sample.failed)).toLocaleString('en-US')}/item (sample of ${m.sample.costs.length})`
          : `${m.outputBounded === m.items ? 'up to' : 'about'} ${Math.round(m.outputTokens / Math.max(1, m.items)).toLocaleString('en-US')}/item`,
        price ? `${perMillion(price.input)} / ${perMillion(price.output)}` : 'no price',
        range ? `${formatUsd(range.lowNanos)} – ${formatUsd(range.highNanos)}` : 'unknown',
      ]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
      const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
      out.push('', fmt(head), ...table.map(fmt));
      const known = rows.filter((r) => r.range);
      if (known.length > 1) {
        out.push('', `total: ${formatUsd(known.reduce((n, r) => n + r.range!.lowNanos, 0))} – ${formatUsd(known.reduce((n, r) => n + r.range!.highNanos, 0))}${known.length < rows.length ? ' (models without a price left out)' : ''}`);
      }
      if (rows.some((r) => r.range?.basis === 'tokens')) {
        out.push(
          '',
          'Range without a sample: from the input alone (at 4 characters a token) to input plus the output counted per item' +
            (rows.some((r) => r.m.outputBounded < r.m.items) ? ' (max_output_tokens where set; else the expected output, which is no upper bound)' : ' (max_output_tokens)') +
            '. --sample N calls the API for N items and extrapolates.',
        );
      }
      for (const w of warnings) out.push(`note: ${w}`);
      process.stdout.write(out.join('\n') + '\n');
    });
}

function resolveImages(item: Item, settings: RunSettings): Promise<string[]> {
  const refs: ImageRef[] = item.request.kind === 'body' ? [] : item.request.images;
  return Promise.all(refs.map((r) => resolveImage(r, settings)));
}

/** A price in pico-dollars per token as USD per 1M tokens: `$0.075`, `$10.00`. */
function perMillion(pico: number): string {
  return `$${(pico / 1e6).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;
}
