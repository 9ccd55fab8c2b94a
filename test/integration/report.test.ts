import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { NANOS_PER_USD, usdToNanos } from '../../src/cost/compute.js';
import { ConfigError, ReportInputError, type Respool } from '../../src/index.js';
import { runCli, tempDir, testPrefix } from '../helpers/cli.js';
import { withLibrary } from '../helpers/library.js';
import { writeResults } from '../helpers/results-gen.js';

interface ReportJson {
  files: string[];
  lines: number;
  unreadable_lines: number;
  total: { lines: number; status: Record<string, number>; tokens: { input: number; cached: number; output: number; reasoning: number }; cost_nanos: number; cost_usd: number; unpriced_lines: number; api_priced_lines: number };
  breakdowns: Array<{ by: string[]; groups: Array<{ key: Record<string, string>; lines: number; cost_nanos: number }> }>;
  tokens_per_item: Array<{ from: number; to: number; lines: number }>;
  errors: Record<string, number>;
  warnings: string[];
}

/** What the lines of a file say, added up independently of the report code. */
async function sumsOf(file: string) {
  const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { status: string; model: string | null; cost: { total: number; source: string } | null; usage: { input_tokens: number } | null; metadata?: { dataset: string } });
  let nanos = 0;
  let floatUsd = 0;
  const byModel = new Map<string, number>();
  for (const l of lines) {
    if (!l.cost) continue;
    nanos += Math.round(l.cost.total * NANOS_PER_USD);
    floatUsd += l.cost.total;
    byModel.set(l.model ?? '(none)', (byModel.get(l.model ?? '(none)') ?? 0) + Math.round(l.cost.total * NANOS_PER_USD));
  }
  return { lines, nanos, floatUsd, byModel };
}

/** `rp.report` (what `respool report` prints): totals and breakdowns of results files, in every format. */
describe('respool report', () => {
  let rp: Respool;
  let dir: string;
  let big: string;
  withLibrary(testPrefix(), (s) => ({ rp, dir } = s));
  before(async () => {
    big = path.join(dir, 'big.jsonl');
    await writeResults(big, 10_000, { unpricedModel: 'acme-7b', routerShare: 0.1 });
  });

  it('json: totals equal the sum of the line costs to the cent on 10,000 lines, breakdowns add up', async () => {
    const r = JSON.parse(await rp.report([big], { format: 'json', by: 'model,day,status,dataset,model+day' })) as ReportJson;
    const s = await sumsOf(big);
    assert.equal(r.lines, 10_000);
    assert.equal(r.total.cost_nanos, s.nanos, 'exact, in nano-dollars');
    assert.equal(Math.round(r.total.cost_usd * 100), Math.round(s.floatUsd * 100), 'to the cent');
    assert.ok(r.total.cost_usd > 1, `a real amount: ${r.total.cost_usd}`);
    // Some lines came priced by the "router", some have no price at all.
    assert.equal(r.total.api_priced_lines, s.lines.filter((l) => l.cost?.source === 'api').length);
    assert.ok(r.total.api_priced_lines > 0);
    const unpriced = s.lines.filter((l) => l.usage && !l.cost).length;
    assert.ok(unpriced > 0);
    assert.equal(r.total.unpriced_lines, unpriced);
    assert.ok(r.warnings.some((w) => w.includes(`${unpriced} lines with usage but no price for their model could not be priced`) && w.includes(`acme-7b (${unpriced} lines)`)), r.warnings.join('\n'));
    for (const b of r.breakdowns) {
      assert.equal(b.groups.reduce((n, g) => n + g.cost_nanos, 0), s.nanos, `by ${b.by.join('+')}: costs add up`);
      assert.equal(b.groups.reduce((n, g) => n + g.lines, 0), 10_000, `by ${b.by.join('+')}: lines add up`);
    }
    const byModel = r.breakdowns.find((b) => b.by.join() === 'model')!;
    for (const g of byModel.groups) assert.equal(g.cost_nanos, s.byModel.get(g.key.model!) ?? 0, g.key.model);
    const byDay = r.breakdowns.find((b) => b.by.join() === 'day')!;
    assert.deepEqual(byDay.groups.map((g) => g.key.day), [...byDay.groups.map((g) => g.key.day!)].sort(), 'days in order');
    assert.equal(byDay.groups.length, 7);
    const byDataset = r.breakdowns.find((b) => b.by.join() === 'metadata.dataset')!;
    assert.deepEqual(byDataset.groups.map((g) => g.key['metadata.dataset']).sort(), ['product-photos', 'reviews', 'support-tickets']);
    assert.equal(r.breakdowns.find((b) => b.by.join() === 'model,day')!.groups.length, 7 * 7, 'five priced models, one unpriced and none (rejected lines), over seven days');
    assert.equal(r.tokens_per_item.reduce((n, b) => n + b.lines, 0), s.lines.filter((l) => l.usage).length);
    assert.equal(r.errors.rejected_input, s.lines.filter((l) => l.status === 'rejected').length);
  });

  it('reads several files and globs (relative to cwd), once each, and skips lines that are not JSON', async () => {
    const a = path.join(dir, 'part-a.jsonl');
    const b = path.join(dir, 'part-b.jsonl');
    await writeResults(a, 300, { seed: 1 });
    await writeResults(b, 200, { seed: 2 });
    const expected = (await sumsOf(a)).nanos + (await sumsOf(b)).nanos;
    await appendFile(b, '{"custom_id":"torn","status":"compl');
    const r = JSON.parse(await rp.report(['part-a.jsonl', 'part-*.jsonl'], { format: 'json' })) as ReportJson;
    assert.deepEqual(r.files, ['part-a.jsonl', 'part-b.jsonl']);
    assert.equal(r.lines, 500);
    assert.equal(r.unreadable_lines, 1);
    assert.ok(r.warnings.some((w) => w.includes('part-b.jsonl:201')), r.warnings.join('; '));
    assert.equal(r.total.cost_nanos, expected);
  });

  it('table: aligned columns with the total and each breakdown', async () => {
    const text = await rp.report([big], { format: 'table', by: 'model' });
    const lines = text.split('\n');
    const total = (await sumsOf(big)).nanos;
    assert.match(lines[0]!, new RegExp(`^10000 lines in 1 file, cost \\$${(total / NANOS_PER_USD).toFixed(2)}$`));
    const at = lines.indexOf('By model');
    assert.ok(at > 0, text);
    const head = lines[at + 1]!;
    const rule = lines[at + 2]!;
    assert.match(rule, /^-+( +-+)+$/);
    // Every row's numbers end where the header's column names end.
    const rows = lines.slice(at + 3).filter((l) => l.length > 0 && !l.startsWith('note:'));
    assert.equal(rows.length, 7);
    const costEnd = head.indexOf('cost_usd') + 'cost_usd'.length;
    for (const row of rows) assert.match(row.slice(0, costEnd), /\$\d+\.\d+$/, row);
    assert.ok(text.includes('note: '), 'the unpriced lines are mentioned');
  });

  it('csv: a header, a total row and one row per group; costs to the nano-dollar', async () => {
    const text = await rp.report([big], { format: 'csv', by: 'model,day' });
    const rows = text.trim().split('\n').map((l) => l.split(','));
    const head = rows[0]!;
    assert.deepEqual(head.slice(0, 4), ['breakdown', 'model', 'day', 'lines']);
    const cost = head.indexOf('cost_usd');
    const total = rows.find((r) => r[0] === 'total')!;
    assert.equal(usdToNanos(Number(total[cost])), (await sumsOf(big)).nanos);
    const models = rows.filter((r) => r[0] === 'model');
    assert.equal(models.length, 7);
    assert.equal(models.reduce((n, r) => n + usdToNanos(Number(r[cost])), 0), usdToNanos(Number(total[cost])));
    assert.equal(rows.filter((r) => r[0] === 'day').length, 7);
    assert.ok(rows.every((r) => r.length === head.length));
  });

  it('markdown: headed tables with right-aligned figures', async () => {
    const text = await rp.report([big], { format: 'markdown', by: 'status' });
    assert.match(text, /^# Cost report\n/);
    assert.match(text, /## By status\n\n\| status \| lines \|/);
    assert.match(text, /\|---\|---:\|/);
    assert.match(text, /\| completed \| \d+ \|/);
  });

  it('html: one self-contained page with the four charts', async () => {
    const html = await rp.report([big], { format: 'html' });
    for (const id of ['cost-per-day', 'cost-per-model', 'tokens-per-item', 'failures']) assert.match(html, new RegExp(`<figure class="chart" id="${id}">.*?<svg[^>]*>.*?<rect`, 's'), id);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i, 'loads nothing from elsewhere');
    assert.doesNotMatch(html, /<link\b/i);
    assert.match(html, /acme-7b/);
  });

  it('absurd numbers (1e308, an overflowing count, a negative cost) are left out, counted and named; no output gets Infinity or NaN', async () => {
    const file = path.join(dir, 'absurd.jsonl');
    const ok = (i: number, total: number) => ({ custom_id: `ok${i}`, status: 'completed', model: 'gpt-4o', run: 'r', finished_at: `2026-11-2${i}T10:00:00.000Z`, usage: { input_tokens: 100, output_tokens: 20, total_tokens: 120 }, cost: { total, currency: 'USD', source: 'price_table' } });
    const texts = [
      JSON.stringify(ok(1, 0.0012)),
      JSON.stringify({ ...ok(2, 0), custom_id: 'huge-cost', model: 'm-huge', cost: { total: 1e308, currency: 'USD', source: 'api' } }),
      // JSON.parse reads 1e999 as Infinity.
      JSON.stringify({ ...ok(3, 0.001), custom_id: 'inf-tokens', model: 'm-inf' }).replace('"input_tokens":100', '"input_tokens":1e999'),
      JSON.stringify({ ...ok(4, -5), custom_id: 'negative', model: 'm-neg' }),
      JSON.stringify(ok(5, 0.0034)),
    ];
    await writeFile(file, texts.join('\n') + '\n');
    const r = JSON.parse(await rp.report([file], { format: 'json', by: 'model,day' })) as ReportJson & { total: { absurd_lines: number }; left_out: Array<{ reason: string; model: string; lines: number }>; absurd_at: string[] };
    assert.equal(r.lines, 5);
    assert.equal(r.total.cost_nanos, usdToNanos(0.0012) + usdToNanos(0.0034), 'the sane lines only');
    assert.deepEqual(r.total.tokens, { input: 200, cached: 0, output: 40, reasoning: 0 });
    assert.equal(r.total.absurd_lines, 3);
    assert.deepEqual(r.left_out.map((e) => `${e.reason}: ${e.model} ${e.lines}`).sort(), ['absurd numbers: m-huge 1', 'absurd numbers: m-inf 1', 'absurd numbers: m-neg 1']);
    // Named relative to the library's cwd.
    assert.deepEqual(r.absurd_at, ['absurd.jsonl:2', 'absurd.jsonl:3', 'absurd.jsonl:4']);
    assert.ok(r.warnings.some((w) => /3 lines with absurd numbers .* m-huge \(1 line\)/.test(w)), r.warnings.join('\n'));
    for (const format of ['table', 'csv', 'json', 'markdown', 'html'] as const) {
      const text = await rp.report([file], { format, by: 'model,day,status' });
      assert.doesNotMatch(text, /Infinity|NaN|e\+\d/, format);
      assert.match(text, /m-huge/, `${format} names the model of the absurd line`);
    }
    assert.match(await rp.report([file], { format: 'html' }), /absurd numbers/);
  });

  it('a missing file or a glob matching nothing throws ReportInputError, a bad breakdown an error; an empty file costs nothing', async () => {
    await assert.rejects(rp.report([path.join(dir, 'nope.jsonl')]), ReportInputError);
    await assert.rejects(rp.report(['nope-*.jsonl']), ReportInputError);
    await assert.rejects(rp.report([big], { by: 'model+' }), /empty dimension/);
    // A format the type does not allow (a JavaScript caller) is refused, naming the formats, not turned into a table.
    await assert.rejects(rp.report([big], { format: 'pdf' as never }), (err: Error) => err instanceof ConfigError && /format: "pdf" is not one of table, csv, json, markdown, html/.test(err.message));
    await writeFile(path.join(dir, 'empty.jsonl'), '');
    const r = JSON.parse(await rp.report(['empty.jsonl'])) as ReportJson;
    assert.equal(r.lines, 0);
    assert.equal(r.total.cost_nanos, 0);
  });
});

/** What only the command line does: --out, its exit codes, a process with a capped heap. */
describe('respool report (command line)', () => {
  let dir: string;
  let small: string;
  before(async () => {
    dir = await tempDir();
    small = path.join(dir, 'small.jsonl');
    await writeResults(small, 500, { unpricedModel: 'acme-7b', seed: 4 });
  });

  it('html written with --out: nothing on stdout, the file holds the report', async () => {
    const out = path.join(dir, 'report.html');
    const res = await runCli(['report', small, '--format', 'html', '--out', out]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /report written to /);
    const html = await readFile(out, 'utf8');
    assert.match(html, /<figure class="chart" id="cost-per-day">/);
    assert.match(html, /acme-7b/);
  });

  it('table by default, on stdout', async () => {
    const res = await runCli(['report', small, '--by', 'model']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^500 lines in 1 file, cost \$[\d.]+\n/);
    assert.ok(res.stdout.split('\n').includes('By model'), res.stdout);
  });

  it('streams: 300,000 lines (170 MB) go through with the heap capped at 64 MB', async () => {
    const file = path.join(dir, 'large.jsonl');
    await writeResults(file, 300_000, { seed: 3 });
    // Holding the lines would need several hundred MB of heap; the report keeps only its groups.
    const res = await runCli(['report', file, '--format', 'json', '--by', 'model,run,day,status,dataset'], { env: { NODE_OPTIONS: '--max-old-space-size=64' } });
    assert.equal(res.code, 0, res.stderr.slice(-2000));
    assert.equal((JSON.parse(res.stdout) as ReportJson).lines, 300_000);
  });

  it('bad flags and missing files exit with 2', async () => {
    assert.equal((await runCli(['report', path.join(dir, 'nope.jsonl')])).code, 2);
    assert.equal((await runCli(['report', path.join(dir, 'nope-*.jsonl')])).code, 2);
    assert.equal((await runCli(['report', small, '--format', 'pdf'])).code, 2);
    assert.equal((await runCli(['report', small, '--by', 'model+'])).code, 2);
    const empty = path.join(dir, 'empty.jsonl');
    await writeFile(empty, '');
    const res = await runCli(['report', empty, '--format', 'json']);
    assert.equal(res.code, 0);
    assert.equal((JSON.parse(res.stdout) as ReportJson).total.cost_nanos, 0);
  });
});
