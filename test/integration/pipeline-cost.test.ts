import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { costNanos, NANOS_PER_USD, usageCounts, usdToNanos } from '../../src/cost/compute.js';
import { bundledPrices } from '../../src/cost/load-prices.js';
import { findPrice } from '../../src/cost/prices.js';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Job, Respool } from '../../src/index.js';
import { buildRequestBody } from '../../src/worker/build-request.js';
import { estimateRequestTokens } from '../../src/cost/token-estimate.js';
import { numberedIds } from '../helpers/prompts.js';
import { assertEachIdOnce, readLines, ROOT, runCli, testPrefix } from '../helpers/cli.js';
import { withFakeServer } from '../helpers/fake-suite.js';
import { runJob, runOnWorkers, withLibrary, type LibrarySuite } from '../helpers/library.js';

const promptText = (i: number, tag = '') => `${tag}Question ${String(i).padStart(4, '0')}: name a colour.`;

async function writeQuestions(dir: string, name: string, n: number, extra: string[] = [], tag = ''): Promise<{ file: string; ids: string[] }> {
  const ids = numberedIds(`${name}-`, n);
  const file = path.join(dir, `${name}.in.jsonl`);
  // Prompts of one length, so that every call costs the same at the fake server.
  const rows = ids.map((id, i) => JSON.stringify({ custom_id: id, prompt: promptText(i, tag) }));
  await writeFile(file, [...rows, ...extra].join('\n') + '\n');
  return { file, ids };
}

/** Cost on every line, router-reported cost, user prices, estimate and the max_cost cap, over real HTTP and Redis. */
describe('cost in a run', () => {
  let suite: LibrarySuite;
  let fake: FakeServer;
  let rp: Respool;
  let dir: string;
  let messages: string[];
  const prefix = testPrefix();

  withLibrary(prefix, (s) => ({ fake, dir, rp, messages } = suite = s), { latencyMs: 10 });

  const prompts = (name: string, n: number, extra: string[] = [], tag = '') => writeQuestions(dir, name, n, extra, tag);

  /** Runs `job` to its end in this process; it must complete (every item has its line). */
  async function runComplete(job: Job) {
    const done = await runJob(rp, job);
    assert.equal(done.result.outcome, 'complete');
    return done;
  }

  it('every line carries its cost from its own usage, and the run metadata; the result sums the cost', async () => {
    fake.reset();
    const { file } = await prompts('lines', 12, ['{"custom_id": "bad", "prompt": ']);
    const { result, lines } = await runComplete({ name: 'lines', inputs: file, model: 'gpt-4o-mini-2024-07-18', base_url: fake.url, out: 'lines.out.jsonl', request: { metadata: { dataset: 'colours', team: 'finance' } } });
    assert.equal(result.failedLines, 0);
    assert.equal(lines.length, 13);
    const price = findPrice(await bundledPrices(), 'gpt-4o-mini')!;
    let nanos = 0;
    const tokens = { input: 0, output: 0 };
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
      tokens.input += l.usage!.input_tokens;
      tokens.output += l.usage!.output_tokens;
    }
    // The run's totals (what the command line's summary prints) are the lines' own.
    assert.equal(result.totals.costNanos, nanos);
    assert.equal(result.costUsd, nanos / NANOS_PER_USD);
    assert.equal(result.totals.tokens.input, tokens.input);
    assert.equal(result.totals.tokens.output, tokens.output);
    assert.equal(result.totals.tokens.cached, 0);
    assert.equal(result.totals.byStatus.rejected, 1);
  });

  it('an unknown model gets cost null and one warning; a price file of the user prices it', async () => {
    fake.reset();
    const { file } = await prompts('unknown', 10);
    messages.length = 0;
    const { result, lines } = await runComplete({ name: 'unknown', inputs: file, model: 'acme-llm-7b', out: 'unknown.out.jsonl', base_url: fake.url });
    assert.equal(lines.length, 10);
    assert.ok(lines.every((l) => l.status === 'completed' && l.cost === null));
    assert.equal(result.costUsd, null);
    assert.equal(messages.filter((m) => m.includes('no price for model "acme-llm-7b"')).length, 1, messages.join('\n'));

    await writeFile(path.join(dir, 'my-prices.json'), JSON.stringify({ models: { 'acme-llm': { input: 1, output: 2, as_of: '2026-01-01', source: 'contract' } } }));
    // A relative price file is found in the library's folder.
    const priced = await runComplete({ name: 'priced', inputs: file, model: 'acme-llm-2026-01-01', out: 'priced.out.jsonl', base_url: fake.url, prices: 'my-prices.json' });
    assert.equal(priced.lines.length, 10);
    for (const l of priced.lines) {
      const u = usageCounts(l.usage)!;
      assert.equal(usdToNanos(l.cost!.total), u.input * 1000 + u.output * 2000, 'USD 1 and 2 per 1M tokens: 1000 and 2000 nano-dollars a token');
    }
  });

  it('a cost the API reports in usage (a router) is recorded and preferred', async () => {
    fake.reset();
    fake.setOptions({ usageCost: { inputPerMillion: 7, outputPerMillion: 21 } });
    try {
      const { file } = await prompts('router', 8);
      const { lines } = await runComplete({ name: 'router', inputs: file, model: 'gpt-4o', out: 'router.out.jsonl', base_url: fake.url });
      assert.equal(lines.length, 8);
      for (const l of lines) {
        const reported = l.usage!['cost'] as number;
        assert.equal(reported, (l.usage!.input_tokens * 7 + l.usage!.output_tokens * 21) / 1e6);
        assert.deepEqual(l.cost, { input: null, cached_input: null, output: null, total: usdToNanos(reported) / NANOS_PER_USD, currency: 'USD', source: 'api', tier: 'standard' });
      }
    } finally {
      fake.setOptions({ usageCost: undefined });
    }
  });

  it('estimate: counts items and tokens with the rate limiter estimator, calls nothing; probe N calls N', async () => {
    fake.reset();
    const { file } = await prompts('estimate', 40, ['not json']);
    const job: Job = { name: 'estimate', inputs: file, model: 'gpt-4.1-mini', base_url: fake.url, out: 'estimate.out.jsonl', request: { max_output_tokens: 300 } };
    const est = await rp.estimate(job);
    assert.equal(fake.stats().requests, 0, 'no API call');
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
    assert.equal(usdToNanos(m.cost_usd!.high), costNanos({ input, cached: 0, output: 12_000 }, price).total);
    assert.equal(m.cost_usd!.basis, 'tokens');

    // With a sample: the extrapolation of 5 real calls, compared with what the whole run costs.
    const sampled = await rp.estimate(job, { probe: 5 });
    assert.equal(fake.stats().requests, 5);
    const s = sampled.models[0]!;
    assert.equal(s.cost_usd!.basis, 'probe');
    const { lines } = await runComplete(job);
    assert.equal(lines.length, 41);
    const actual = lines.reduce((n, l) => n + (l.cost ? usdToNanos(l.cost.total) : 0), 0);
    assert.ok(usdToNanos(s.cost_usd!.low) <= actual * 1.01 && actual * 0.99 <= usdToNanos(s.cost_usd!.high), `actual ${actual} in [${s.cost_usd!.low}, ${s.cost_usd!.high}]`);
    assert.ok(actual < usdToNanos(m.cost_usd!.high), 'the run cost less than the no-sample upper bound');
  });

  it('estimate counts samples (x3 for samples: 3) and every re-ask in its upper bound, which a run with re-asks stays under; it names rejected items', async () => {
    fake.reset();
    const { input, job } = await labelsJob(dir, fake.url);
    const one = await rp.estimate({ ...job, samples: 1 });
    const three = await rp.estimate({ ...job, samples: 3 });
    assert.equal(fake.stats().requests, 0, 'no API call');
    const [m1, m3] = [one.models[0]!, three.models[0]!];
    // Each end is priced once over the summed tokens: x3 up to the rounding of one nano-dollar per part.
    assert.ok(Math.abs(usdToNanos(m3.cost_usd!.high) - 3 * usdToNanos(m1.cost_usd!.high)) <= 6, `${m3.cost_usd!.high} = 3 x ${m1.cost_usd!.high}`);
    assert.ok(Math.abs(usdToNanos(m3.cost_usd!.low) - 3 * usdToNanos(m1.cost_usd!.low)) <= 6, `${m3.cost_usd!.low} = 3 x ${m1.cost_usd!.low}`);
    assert.equal(m3.input_tokens_estimate, 3 * m1.input_tokens_estimate);
    assert.equal(m3.output_tokens_counted, 3 * m1.output_tokens_counted);
    assert.equal(m1.calls, 10);
    assert.equal(m3.calls, 3 * m1.calls);
    assert.equal(m3.calls_with_reasks, 3 * m1.calls_with_reasks);
    assert.equal(m1.calls_with_reasks, 30, 'each sample asked up to 1 + invalid_output_retries times');
    assert.equal(three.items, 10);
    assert.equal(three.rejected, 1);
    assert.equal(three.rejected_items[0]!.custom_id, path.basename(input) + ':11');
    assert.match(three.rejected_items[0]!.source, /est-labels\.in\.jsonl:11$/);
    assert.match(three.rejected_items[0]!.reason, /malformed JSON/);

    // The real run, samples and re-asks and all, costs no more than the upper bound.
    // Some answers stay invalid after their re-asks: invalid_output lines (what the command line exits 5 for).
    const { result, lines } = await runComplete({ ...job, samples: 3 });
    assert.ok(result.unsuccessful.byStatus.invalid_output > 0, JSON.stringify(result.unsuccessful));
    assert.equal(result.failedLines, result.unsuccessful.byStatus.invalid_output);
    const calls = lines.reduce((n, l) => n + (l.status === 'rejected' ? 0 : (l.calls ?? 1)), 0);
    assert.ok(calls > m3.calls, `re-asks happened: ${calls} calls`);
    assert.ok(calls <= m3.calls_with_reasks);
    assert.equal(fake.stats().requests, calls);
    const actual = lines.reduce((n, l) => n + (l.cost ? usdToNanos(l.cost.total) : 0), 0);
    assert.ok(actual > 0);
    assert.ok(actual <= usdToNanos(m3.cost_usd!.high), `run ${actual} <= upper bound ${usdToNanos(m3.cost_usd!.high)}`);
    assert.ok(actual > usdToNanos(m1.cost_usd!.low), 'more than one call per item');
  });

  it('estimate reads the inputs as a run does: several images per cell, images under an image root', async () => {
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
    const job: Job = { name: 'est-images', inputs: [csv], prompt: 'Describe {{text}}', model: 'gpt-4.1-mini', base_url: fake.url, image_separator: '|', image_roots: [shared], out: 'est-images.out.jsonl' };

    const est = await rp.estimate(job);
    assert.deepEqual({ items: est.items, rejected: est.rejected }, { items: 2, rejected: 0 });
    const { result, lines } = await runComplete(job);
    assert.equal(result.failedLines, 0);
    assert.deepEqual(lines.map((l) => [l.custom_id, l.status]).sort(), [['root', 'completed'], ['two', 'completed']]);
  });

  it('max_cost holds across two workers (as two processes): items past it are skipped, nothing lost, the cap reached', async () => {
    fake.reset();
    // Slow answers (the fake server's latency token), so that neither worker finishes the run alone.
    const tag = '[[latency:500]] ';
    const { file, ids } = await prompts('capped', 120, [], tag);
    // gpt-4o with 100 output tokens reserved: about $0.001 a call, while a call costs about $0.00017.
    const maxCost = 0.01;
    const job: Job = { name: 'capped', inputs: file, model: 'gpt-4o', base_url: fake.url, out: 'capped.out.jsonl', request: { max_output_tokens: 100 }, max_cost: maxCost };
    const { collected, delivered, lines } = await runOnWorkers(suite, prefix, job, { workers: 2, concurrency: 6 });
    assert.ok(delivered.every((n) => n > 0), `both workers worked: ${delivered.join(', ')}`);
    assert.equal(collected.outcome, 'complete');
    assert.equal(collected.costCapReached, true);

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

    // Running the same capped job says so too, and writes nothing twice.
    const again = await runComplete(job);
    assert.equal(again.result.costCapReached, true);
    assert.equal(again.result.totals.lines, 0);
    assert.equal(again.lines.length, 120, 'nothing written twice');
    assert.equal(fake.stats().requests, completed.length, 'no call when run again');
    // What Redis counted as spent is what the lines say they cost.
    const report = await rp.status('capped');
    assert.deepEqual(report!.max_cost, { cap: maxCost, spent: spent / NANOS_PER_USD, in_flight: 0, reached: true });
  });
});

/** A labels job (samples, re-asks) over 10 items and one malformed line, as an object and as a job file. */
async function labelsJob(dir: string, baseUrl: string): Promise<{ input: string; job: Job; jobFile: string }> {
  const rows = Array.from({ length: 10 }, (_, i) => {
    // Some answers never match the schema (asked again twice per sample), some only the third time.
    const magic = i < 3 ? ' [[invalid_schema]]' : i < 5 ? ' [[invalid_first:2]]' : '';
    return JSON.stringify({ custom_id: `lab-${i}`, prompt: `Review ${i}: it was fine, I suppose.${magic}` });
  });
  const input = path.join(dir, 'est-labels.in.jsonl');
  await writeFile(input, [...rows, '{"custom_id": "torn", "prompt": '].join('\n') + '\n');
  const out = path.join(dir, 'est-labels.out.jsonl');
  const jobFile = path.join(dir, 'est-labels.yaml');
  await writeFile(jobFile, `name: est-labels\ninputs: [${input}]\nmodel: gpt-4.1-mini\nbase_url: ${baseUrl}\nout: ${out}\nrequest:\n  max_output_tokens: 64\nlabels:\n  values: [positive, negative, neutral]\ninvalid_output_retries: 2\n`);
  const job: Job = { name: 'est-labels', inputs: [input], model: 'gpt-4.1-mini', base_url: baseUrl, out, request: { max_output_tokens: 64 }, labels: { values: ['positive', 'negative', 'neutral'] }, invalid_output_retries: 2 };
  return { input, job, jobFile };
}

/** What only the command line does: its printed estimate, its flags, its exit code and message at max_cost. */
describe('cost in a run (command line)', () => {
  let fake: FakeServer;
  let dir: string;
  const prefix = testPrefix();
  const env = { OPENRESPONSES_API_KEY: 'sk-cost-test-5678' };

  withFakeServer(prefix, (s) => ({ fake, dir } = s), { latencyMs: 10 });

  it('estimate prints a table: items, the rejected ones by file and line, calls with re-asks', async () => {
    const { jobFile } = await labelsJob(dir, fake.url);
    const table = await runCli(['estimate', jobFile, '--samples', '3'], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^10 items, 1 rejected \(listed below\), 1 model/);
    assert.match(table.stdout, /\n {2}\S*est-labels\.in\.jsonl:11 \(est-labels\.in\.jsonl:11\): .*malformed JSON/);
    assert.match(table.stdout, /3 \(up to 9 with re-asks\)/);
    assert.equal(fake.stats().requests, 0);
  });

  it('estimate --sample says which flag is meant instead of guessing', async () => {
    fake.reset();
    const { file } = await writeQuestions(dir, 'est-flag', 2);
    const res = await runCli(['estimate', '--input', file, '--model', 'gpt-4.1-mini', '--sample', '5'], { env });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--probe N to call the API .*--samples N for the job setting samples/);
    assert.equal(fake.stats().requests, 0);
  });

  it('a run that reaches its max_cost exits 4 saying so, and again when run again, writing nothing twice', async () => {
    fake.reset();
    const { file, ids } = await writeQuestions(dir, 'cli-capped', 20);
    const out = path.join(dir, 'cli-capped.out.jsonl');
    // gpt-4o with 100 output tokens reserved: about $0.001 a call, so a few calls fit in $0.003.
    const args = ['--prefix', prefix, 'run', '--name', 'cli-capped', '--input', file, '--model', 'gpt-4o', '--base-url', fake.url, '--out', out, '--max-output-tokens', '100', '--max-cost', '0.003', '--concurrency', '2'];
    const first = await runCli(args, { env });
    assert.equal(first.code, 4, first.stderr);
    assert.match(first.stderr, /reached its max_cost of \$0\.003/);
    const lines = await readLines(out);
    assertEachIdOnce(lines, ids);
    assert.ok(lines.some((l) => l.status === 'skipped'));
    const again = await runCli(args, { env });
    assert.equal(again.code, 4, again.stderr);
    assert.match(again.stderr, /reached its max_cost of \$0\.003/);
    assert.equal((await readLines(out)).length, 20, 'nothing written twice');
  });
});
