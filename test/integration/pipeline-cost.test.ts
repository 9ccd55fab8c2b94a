import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { costNanos, NANOS_PER_USD, usageCounts, usdToNanos } from '../../src/cost/compute.js';
import { bundledPrices } from '../../src/cost/load-prices.js';
import { findPrice } from '../../src/cost/prices.js';
import type { FakeServer } from '../../src/fake-server/index.js';
import { buildRequestBody } from '../../src/worker/build-request.js';
import { estimateRequestTokens } from '../../src/cost/token-estimate.js';
import { numberedIds } from '../helpers/prompts.js';
import { assertEachIdOnce, finished, readLines, ROOT, runCli, spawnCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';

/** Cost on every line, router-reported cost, user prices, estimate and the max_cost cap, over real HTTP and Redis. */
describe('cost in a run', () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  const env = { OPENRESPONSES_API_KEY: 'sk-cost-test-5678' };

  withFakeServer(prefix, (s) => ({ fake, dir } = s), { latencyMs: 10 });

  const promptText = (i: number, tag = '') => `${tag}Question ${String(i).padStart(4, '0')}: name a colour.`;

  async function prompts(name: string, n: number, extra: string[] = [], tag = ''): Promise<{ file: string; ids: string[] }> {
    const ids = numberedIds(`${name}-`, n);
    const file = path.join(dir, `${name}.in.jsonl`);
    // Prompts of one length, so that every call costs the same at the fake server.
    const rows = ids.map((id, i) => JSON.stringify({ custom_id: id, prompt: promptText(i, tag) }));
    await writeFile(file, [...rows, ...extra].join('\n') + '\n');
    return { file, ids };
  }

  it('every line carries its cost from its own usage, and the run metadata; the summary prints the cost', async () => {
    fake.reset();
    const { file } = await prompts('lines', 12, ['{"custom_id": "bad", "prompt": ']);
    const out = path.join(dir, 'lines.out.jsonl');
    const job = path.join(dir, 'lines.yaml');
    await writeFile(job, `name: lines\ninputs: [${file}]\nmodel: gpt-4o-mini-2024-07-18\nout: ${out}\nrequest:\n  metadata: { dataset: colours, team: finance }\n`);
    const res = await runCli(['--prefix', prefix, 'run', job, '--base-url', fake.url], { env });
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(out);
    assert.equal(lines.length, 13);
    const price = findPrice(await bundledPrices(), 'gpt-4o-mini')!;
    let nanos = 0;
    for (const l of lines) {
      assert.ok('cost' in l, 'every line has the field');
      assert.deepEqual(l.metadata, { dataset: 'colours', team: 'finance' });
      if (l.status === 'rejected') {
        assert.equal(l.cost, null);
        continue;
      }
      assert.equal(l.status, 'completed');
      const expected = costNanos(usageCounts(l.usage)!, price);
      assert.equal(usdToNanos(l.cost!.total), expected.total);
      assert.equal(usdToNanos(l.cost!.input!), expected.input);
      assert.equal(usdToNanos(l.cost!.output!), expected.output);
      assert.equal(l.cost!.source, 'price_table');
      assert.equal(l.cost!.currency, 'USD');
      nanos += expected.total;
    }
    assert.match(res.stderr, /tokens: \d+ input \(0 cached\), \d+ output \(\d+ reasoning\)/);
    assert.ok(res.stderr.includes(`cost: $${(nanos / NANOS_PER_USD).toLocaleString('en-US', { maximumSignificantDigits: 2 })}`), res.stderr);
  });

  it('an unknown model gets cost null and one warning; a price file of the user prices it', async () => {
    fake.reset();
    const { file } = await prompts('unknown', 10);
    const out = path.join(dir, 'unknown.out.jsonl');
    const res = await runCli(['--prefix', prefix, 'run', '--name', 'unknown', '--input', file, '--model', 'acme-llm-7b', '--out', out, '--base-url', fake.url], { env });
    assert.equal(res.code, 0, res.stderr);
    const lines = await readLines(out);
    assert.ok(lines.every((l) => l.status === 'completed' && l.cost === null));
    assert.equal(res.stderr.split('no price for model "acme-llm-7b"').length - 1, 1, res.stderr);

    const prices = path.join(dir, 'my-prices.json');
    await writeFile(prices, JSON.stringify({ models: { 'acme-llm': { input: 1, output: 2, as_of: '2026-01-01', source: 'contract' } } }));
    const out2 = path.join(dir, 'priced.out.jsonl');
    const res2 = await runCli(['--prefix', prefix, 'run', '--name', 'priced', '--input', file, '--model', 'acme-llm-2026-01-01', '--out', out2, '--base-url', fake.url, '--prices', prices], { env });
    assert.equal(res2.code, 0, res2.stderr);
    for (const l of await readLines(out2)) {
      const u = usageCounts(l.usage)!;
      assert.equal(usdToNanos(l.cost!.total), u.input * 1000 + u.output * 2000, 'USD 1 and 2 per 1M tokens: 1000 and 2000 nano-dollars a token');
    }
  });

  it('a cost the API reports in usage (a router) is recorded and preferred', async () => {
    fake.reset();
    fake.setOptions({ usageCost: { inputPerMillion: 7, outputPerMillion: 21 } });
    try {
      const { file } = await prompts('router', 8);
      const out = path.join(dir, 'router.out.jsonl');
      const res = await runCli(['--prefix', prefix, 'run', '--name', 'router', '--input', file, '--model', 'gpt-4o', '--out', out, '--base-url', fake.url], { env });
      assert.equal(res.code, 0, res.stderr);
      for (const l of await readLines(out)) {
        const reported = l.usage!['cost'] as number;
        assert.equal(reported, (l.usage!.input_tokens * 7 + l.usage!.output_tokens * 21) / 1e6);
        assert.deepEqual(l.cost, { input: null, cached_input: null, output: null, total: usdToNanos(reported) / NANOS_PER_USD, currency: 'USD', source: 'api', tier: 'standard' });
      }
    } finally {
      fake.setOptions({ usageCost: undefined });
    }
  });

  it('estimate: counts items and tokens with the rate limiter estimator, calls nothing; --probe N calls N', async () => {
    fake.reset();
    const { file } = await prompts('estimate', 40, ['not json']);
    const common = ['estimate', '--input', file, '--model', 'gpt-4.1-mini', '--base-url', fake.url, '--max-output-tokens', '300', '--json'];
    const res = await runCli(common, { env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(fake.stats().requests, 0, 'no API call');
    const est = JSON.parse(res.stdout) as { items: number; rejected: number; models: Array<{ model: string; items: number; input_tokens_estimate: number; output_tokens_counted: number; cost_usd: { low: number; high: number; basis: string } }> };
    assert.equal(est.items, 40);
    assert.equal(est.rejected, 1);
    const m = est.models[0]!;
    assert.equal(m.model, 'gpt-4.1-mini');
    let input = 0;
    for (let i = 0; i < 40; i++) {
      const body = buildRequestBody({ model: 'gpt-4.1-mini', max_output_tokens: 300, detail: 'auto' }, { kind: 'prompt', text: promptText(i), images: [] }, []);
      input += estimateRequestTokens(body).input;
    }
    assert.equal(m.input_tokens_estimate, input);
    assert.equal(m.output_tokens_counted, 40 * 300);
    const price = findPrice(await bundledPrices(), 'gpt-4.1-mini')!;
    assert.equal(usdToNanos(m.cost_usd.high), costNanos({ input, cached: 0, output: 12_000 }, price).total);
    assert.equal(m.cost_usd.basis, 'tokens');

    // With a sample: the extrapolation of 5 real calls, compared with what the whole run costs.
    const sampled = await runCli([...common, '--probe', '5'], { env });
    assert.equal(sampled.code, 0, sampled.stderr);
    assert.equal(fake.stats().requests, 5);
    const s = (JSON.parse(sampled.stdout) as typeof est).models[0]!;
    assert.equal(s.cost_usd.basis, 'probe');
    const out = path.join(dir, 'estimate.out.jsonl');
    const run = await runCli(['--prefix', prefix, 'run', '--name', 'estimate', '--input', file, '--model', 'gpt-4.1-mini', '--out', out, '--base-url', fake.url, '--max-output-tokens', '300'], { env });
    assert.equal(run.code, 0, run.stderr);
    const actual = (await readLines(out)).reduce((n, l) => n + (l.cost ? usdToNanos(l.cost.total) : 0), 0);
    assert.ok(usdToNanos(s.cost_usd.low) <= actual * 1.01 && actual * 0.99 <= usdToNanos(s.cost_usd.high), `actual ${actual} in [${s.cost_usd.low}, ${s.cost_usd.high}]`);
    assert.ok(actual < usdToNanos(m.cost_usd.high), 'the run cost less than the no-sample upper bound');
  });

  it('estimate counts samples (x3 for samples: 3) and every re-ask in its upper bound, which a run with re-asks stays under; it names rejected items', async () => {
    fake.reset();
    const rows = Array.from({ length: 10 }, (_, i) => {
      // Some answers never match the schema (asked again twice per sample), some only the third time.
      const magic = i < 3 ? ' [[invalid_schema]]' : i < 5 ? ' [[invalid_first:2]]' : '';
      return JSON.stringify({ custom_id: `lab-${i}`, prompt: `Review ${i}: it was fine, I suppose.${magic}` });
    });
    const input = path.join(dir, 'est-labels.in.jsonl');
    await writeFile(input, [...rows, '{"custom_id": "torn", "prompt": '].join('\n') + '\n');
    const out = path.join(dir, 'est-labels.out.jsonl');
    const job = path.join(dir, 'est-labels.yaml');
    await writeFile(job, `name: est-labels\ninputs: [${input}]\nmodel: gpt-4.1-mini\nout: ${out}\nrequest:\n  max_output_tokens: 64\nlabels:\n  values: [positive, negative, neutral]\ninvalid_output_retries: 2\n`);
    type Est = { items: number; rejected: number; rejected_items: Array<{ custom_id: string; source: string; reason: string }>; models: Array<{ calls: number; calls_with_reasks: number; input_tokens_estimate: number; output_tokens_counted: number; cost_usd: { low: number; high: number } }> };
    const estimate = async (samples: number) => {
      const res = await runCli(['estimate', job, '--samples', String(samples), '--json'], { env });
      assert.equal(res.code, 0, res.stderr);
      return JSON.parse(res.stdout) as Est;
    };
    const one = await estimate(1);
    const three = await estimate(3);
    assert.equal(fake.stats().requests, 0, 'no API call');
    const [m1, m3] = [one.models[0]!, three.models[0]!];
    // Each end is priced once over the summed tokens: x3 up to the rounding of one nano-dollar per part.
    assert.ok(Math.abs(usdToNanos(m3.cost_usd.high) - 3 * usdToNanos(m1.cost_usd.high)) <= 6, `${m3.cost_usd.high} = 3 x ${m1.cost_usd.high}`);
    assert.ok(Math.abs(usdToNanos(m3.cost_usd.low) - 3 * usdToNanos(m1.cost_usd.low)) <= 6, `${m3.cost_usd.low} = 3 x ${m1.cost_usd.low}`);
    assert.equal(m3.input_tokens_estimate, 3 * m1.input_tokens_estimate);
    assert.equal(m3.output_tokens_counted, 3 * m1.output_tokens_counted);
    assert.equal(m1.calls, 10);
    assert.equal(m3.calls, 3 * m1.calls);
    assert.equal(m3.calls_with_reasks, 3 * m1.calls_with_reasks);
    assert.equal(m1.calls_with_reasks, 30, 'each sample asked up to 1 + invalid_output_retries times');
    assert.equal(three.rejected, 1);
    assert.equal(three.rejected_items[0]!.custom_id, path.basename(input) + ':11');
    assert.match(three.rejected_items[0]!.source, /est-labels\.in\.jsonl:11$/);
    assert.match(three.rejected_items[0]!.reason, /malformed JSON/);
    const table = await runCli(['estimate', job, '--samples', '3'], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^10 items, 1 rejected \(listed below\), 1 model/);
    assert.match(table.stdout, /\n {2}\S*est-labels\.in\.jsonl:11 \(est-labels\.in\.jsonl:11\): .*malformed JSON/);
    assert.match(table.stdout, /3 \(up to 9 with re-asks\)/);

    // The real run, samples and re-asks and all, costs no more than the upper bound.
    // Some answers stay invalid after their re-asks: those invalid_output lines make the run exit 5.
    const run = await runCli(['--prefix', prefix, 'run', job, '--samples', '3', '--base-url', fake.url], { env });
    assert.equal(run.code, 5, run.stderr);
    const lines = await readLines(out);
    const calls = lines.reduce((n, l) => n + (l.status === 'rejected' ? 0 : (l.calls ?? 1)), 0);
    assert.ok(calls > m3.calls, `re-asks happened: ${calls} calls`);
    assert.ok(calls <= m3.calls_with_reasks);
    assert.equal(fake.stats().requests, calls);
    const actual = lines.reduce((n, l) => n + (l.cost ? usdToNanos(l.cost.total) : 0), 0);
    assert.ok(actual > 0);
    assert.ok(actual <= usdToNanos(m3.cost_usd.high), `run ${actual} <= upper bound ${usdToNanos(m3.cost_usd.high)}`);
    assert.ok(actual > usdToNanos(m1.cost_usd.low), 'more than one call per item');
  });

  it('estimate --sample says which flag is meant instead of guessing', async () => {
    fake.reset();
    const { file } = await prompts('est-flag', 2);
    const res = await runCli(['estimate', '--input', file, '--model', 'gpt-4.1-mini', '--sample', '5'], { env });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--probe N to call the API .*--samples N for the job setting samples/);
    assert.equal(fake.stats().requests, 0);
  });

  it('estimate reads the inputs as a run does: several images per cell, images under an --image-root', async () => {
    fake.reset();
    const data = path.join(dir, 'est-images', 'data');
    const shared = path.join(dir, 'est-images', 'shared');
    await mkdir(data, { recursive: true });
    await mkdir(shared, { recursive: true });
    const png = path.join(ROOT, 'fixtures', 'images', 'gradient.png');
    await copyFile(png, path.join(data, 'a.png'));
    await copyFile(png, path.join(data, 'b.png'));
    await copyFile(png, path.join(shared, 'c.png'));
    const csv = path.join(data, 'items.csv');
    await writeFile(csv, `id,text,image\ntwo,both,a.png|b.png\nroot,shared,${path.join(shared, 'c.png')}\n`);
    const job = path.join(dir, 'est-images', 'job.json');
    await writeFile(job, JSON.stringify({ inputs: [csv], prompt: 'Describe {{text}}', model: 'gpt-4.1-mini', image_separator: '|', image_roots: [shared], out: path.join(dir, 'est-images.out.jsonl') }));

    const res = await runCli(['estimate', job, '--base-url', fake.url, '--json'], { env });
    assert.equal(res.code, 0, res.stderr);
    const est = JSON.parse(res.stdout) as { items: number; rejected: number };
    assert.deepEqual({ items: est.items, rejected: est.rejected }, { items: 2, rejected: 0 });
    const run = await runCli(['--prefix', prefix, 'run', job, '--name', 'est-images', '--base-url', fake.url], { env });
    assert.equal(run.code, 0, run.stderr);
    const lines = await readLines(path.join(dir, 'est-images.out.jsonl'));
    assert.deepEqual(lines.map((l) => [l.custom_id, l.status]).sort(), [['root', 'completed'], ['two', 'completed']]);
  });

  it('max_cost holds across two worker processes: items past it are skipped, nothing lost, exit 4', async () => {
    fake.reset();
    // Slow answers (the fake server's latency token), so that no worker can finish the run before the
    // other has found it (workers look for runs every 2 s).
    const tag = '[[latency:500]] ';
    const { file, ids } = await prompts('capped', 120, [], tag);
    const out = path.join(dir, 'capped.out.jsonl');
    // gpt-4o with 100 output tokens reserved: about $0.001 a call, while a call costs about $0.00017.
    const maxCost = 0.01;
    const common = ['--prefix', prefix];
    const collector = finished(spawnCli([...common, 'collect', '--name', 'capped', '--out', out], { env }));
    const workers = [0, 1].map(() => spawnCli([...common, 'worker', '--name', 'capped', '--concurrency', '6'], { env }));
    const workersDone = workers.map((w) => finished(w));
    const enq = await runCli([...common, 'enqueue', '--name', 'capped', '--input', file, '--model', 'gpt-4o', '--base-url', fake.url, '--out', out, '--max-output-tokens', '100', '--max-cost', String(maxCost)], { env });
    assert.equal(enq.code, 0, enq.stderr);
    const collected = await collector;
    for (const w of workers) w.kill('SIGTERM');
    const delivered = (await Promise.all(workersDone)).map((r) => Number(/delivered (\d+) lines/.exec(r.stderr)?.[1] ?? -1));
    assert.ok(delivered.every((n) => n > 0), `both workers worked: ${delivered.join(', ')}`);
    assert.equal(collected.code, 4, collected.stderr);
    assert.match(collected.stderr, /reached its max_cost of \$0\.01/);

    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    const completed = lines.filter((l) => l.status === 'completed');
    const skipped = lines.filter((l) => l.status === 'skipped');
    assert.equal(completed.length + skipped.length, 120);
    assert.ok(completed.length > 0 && skipped.length > 0, `${completed.length} completed, ${skipped.length} skipped`);
    assert.ok(skipped.every((l) => l.error?.type === 'max_cost' && l.attempts === 0 && l.cost === null));
    assert.equal(fake.stats().requests, completed.length, 'no call for a skipped item');
    const spent = completed.reduce((n, l) => n + usdToNanos(l.cost!.total), 0);
    // The estimate (max_output_tokens) is above what the fake answers, so the cap is never passed...
    assert.ok(spent <= usdToNanos(maxCost), `spent ${spent} nano-dollars`);
    // ...and the run did not stop early: what is left is less than one call's reservation.
    const price = findPrice(await bundledPrices(), 'gpt-4o')!;
    const body = buildRequestBody({ model: 'gpt-4o', max_output_tokens: 100, detail: 'auto' }, { kind: 'prompt', text: promptText(0, tag), images: [] }, []);
    const oneCall = costNanos({ ...estimateRequestTokens(body), cached: 0 }, price).total;
    assert.ok(usdToNanos(maxCost) - spent < oneCall, `left ${usdToNanos(maxCost) - spent}, one call reserves ${oneCall}`);

    // `run` on the same capped run says so too.
    const again = await runCli([...common, 'run', '--name', 'capped', '--input', file, '--model', 'gpt-4o', '--base-url', fake.url, '--out', out, '--max-output-tokens', '100', '--max-cost', String(maxCost)], { env });
    assert.equal(again.code, 4, again.stderr);
    assert.equal((await readLines(out)).length, 120, 'nothing written twice');
    // What Redis counted as spent is what the lines say they cost.
    const status = await runCli([...common, 'status', '--name', 'capped', '--json'], { env });
    const [report] = JSON.parse(status.stdout) as Array<{ max_cost: { cap: number; spent: number; in_flight: number; reached: boolean } }>;
    assert.deepEqual(report!.max_cost, { cap: maxCost, spent: spent / NANOS_PER_USD, in_flight: 0, reached: true });
  });
});
