/**
 * Writes a results file of `n` generated lines, shaped like respool's own (usage, cost computed by
 * the real Pricer from the bundled prices, metadata, statuses, errors, days), from a seeded PRNG.
 * For the report's tests, its benchmark and the sample HTML report. Streams: memory stays flat.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { OutputLine } from '../../src/core/output-line.js';
import { bundledPrices } from '../../src/cost/load-prices.js';
import { Pricer } from '../../src/cost/pricer.js';
import { createRng } from '../../src/fake-server/faults.js';

export interface GenOptions {
  seed?: number;
  models?: string[];
  days?: number;
  /** A model with no price, so some lines get cost null. */
  unpricedModel?: string;
  /** Share of lines whose usage carries a router's `cost`. */
  routerShare?: number;
}

export async function writeResults(file: string, n: number, opts: GenOptions = {}): Promise<void> {
  const rng = createRng(opts.seed ?? 7);
  const models = opts.models ?? ['gpt-4.1-mini', 'gpt-4o-2024-08-06', 'o4-mini-2025-04-16', 'gpt-4.1-nano', 'o3'];
  const days = opts.days ?? 7;
  const pricer = new Pricer(await bundledPrices());
  const out = createWriteStream(file);
  const start = Date.UTC(2026, 10, 20);
  const datasets = ['reviews', 'support-tickets', 'product-photos'];
  let buf = '';
  for (let i = 0; i < n; i++) {
    const r = rng();
    const model = opts.unpricedModel && r < 0.02 ? opts.unpricedModel : models[Math.floor(rng() * models.length)]!;
    const status: OutputLine['status'] = r < 0.9 ? 'completed' : r < 0.94 ? 'incomplete' : r < 0.98 ? 'failed' : 'rejected';
    // Input sizes spread over a few orders of magnitude (short prompts to images and documents).
    const input = Math.floor(20 * Math.exp(rng() * 6));
    const cached = rng() < 0.3 ? Math.floor(input * rng() * 0.8) : 0;
    const reasoning = model.startsWith('o') ? Math.floor(rng() * 400) : 0;
    const output = Math.floor(10 + rng() * 300) + reasoning;
    const hasUsage = status === 'completed' || status === 'incomplete';
    const usage: Record<string, unknown> | null = hasUsage
      ? { input_tokens: input, input_tokens_details: { cached_tokens: cached }, output_tokens: output, output_tokens_details: { reasoning_tokens: reasoning }, total_tokens: input + output }
      : null;
    if (usage && opts.routerShare && rng() < opts.routerShare) usage.cost = Math.round((input * 3 + output * 12) / 1000) / 1000_000;
    const finished = new Date(start + Math.floor(rng() * days * 86_400_000));
    const line: OutputLine = {
      custom_id: `row-${i}`,
      status,
      model: status === 'rejected' ? null : model,
      output_text: hasUsage ? `label ${i % 5}` : null,
      usage: usage as OutputLine['usage'],
      response_id: hasUsage ? `resp_${i}` : null,
      attempts: status === 'rejected' ? 0 : 1 + Math.floor(rng() * 1.3),
      latency_ms: status === 'rejected' ? null : Math.floor(200 + rng() * 3000),
      source: { file: 'data.csv', line: i + 2 },
      run: `night-${finished.toISOString().slice(5, 10)}`,
      finished_at: finished.toISOString(),
      ...(status === 'failed' ? { error: { type: rng() < 0.6 ? 'server_error' : 'timeout', message: 'HTTP 500 server_error', status: 500 } } : {}),
      ...(status === 'incomplete' ? { error: { type: 'incomplete', message: 'max_output_tokens', status: null } } : {}),
      ...(status === 'rejected' ? { error: { type: 'rejected_input', message: `data.csv:${i + 2}: the id column "id" is empty`, status: null } } : {}),
      cost: pricer.costOf(status === 'rejected' ? null : model, usage),
      metadata: { dataset: datasets[i % datasets.length]! },
    };
    buf += JSON.stringify(line) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}
