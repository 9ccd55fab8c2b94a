import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { costNanos, usageCounts } from '../../src/cost/compute.js';
import { bundledPrices } from '../../src/cost/load-prices.js';
import { findPrice } from '../../src/cost/prices.js';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Respool } from '../../src/index.js';
import { testPrefix } from '../helpers/cli.js';
import { runJob, withLibrary } from '../helpers/library.js';

interface BatchLine {
  custom_id: string;
  response: { status_code: number; body: { model?: string; status?: string; usage?: unknown } } | null;
  error: { code: string; message: string } | null;
}

/** `rp.report` (`respool report`) on a run's openai-batch results file prices every body's usage, and names what it cannot price. */
describe('report on an openai-batch results file', () => {
  let fake: FakeServer;
  let dir: string;
  let rp: Respool;
  withLibrary(testPrefix(), (s) => ({ fake, dir, rp } = s), { latencyMs: 5 });

  it('totals equal the sum of the bodies usage at the price table; an unknown model is counted and named in every format', async () => {
    fake.reset();
    const input = path.join(dir, 'batch.in.jsonl');
    const rows = Array.from({ length: 24 }, (_, i) => JSON.stringify({ custom_id: `q${i}`, prompt: `Question ${i}: name ${'a colour '.repeat(1 + (i % 5))}` }));
    // One request of its own, for a model no price file knows.
    rows.push(JSON.stringify({ custom_id: 'odd', method: 'POST', url: '/v1/responses', body: { model: 'acme-7b', input: 'hello there' } }));
    await writeFile(input, rows.join('\n') + '\n');
    const out = path.join(dir, 'batch.out.jsonl');
    const { result } = await runJob(rp, { inputs: input, model: 'gpt-4o-mini', out, name: 'batchrep', output_format: 'openai-batch', base_url: fake.url });
    assert.equal(result.outcome, 'complete');
    assert.equal(result.failedLines, 0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as BatchLine);
    assert.equal(lines.length, 25);

    // The expectation, from the file's own bodies and the bundled price table.
    const table = await bundledPrices();
    let expectedNanos = 0;
    const tokens = { input: 0, output: 0 };
    const unpriced: string[] = [];
    for (const l of lines) {
      const body = l.response!.body;
      const u = usageCounts(body.usage)!;
      assert.ok(u && typeof body.model === 'string', 'every body has model and usage');
      tokens.input += u.input;
      tokens.output += u.output;
      const price = findPrice(table, body.model);
      if (price) expectedNanos += costNanos(u, price).total;
      else unpriced.push(body.model);
    }
    assert.deepEqual(unpriced, ['acme-7b']);
    assert.ok(expectedNanos > 0);

    const r = JSON.parse(await rp.report([out], { format: 'json', by: 'model' })) as {
      lines: number;
      batch_lines: number;
      total: { cost_nanos: number; unpriced_lines: number; status: Record<string, number>; tokens: { input: number; output: number } };
      breakdowns: Array<{ groups: Array<{ key: { model: string }; lines: number }> }>;
      left_out: Array<{ reason: string; model: string; lines: number }>;
      warnings: string[];
    };
    assert.equal(r.lines, 25);
    assert.equal(r.total.cost_nanos, expectedNanos);
    assert.equal(r.total.tokens.input, tokens.input);
    assert.equal(r.total.tokens.output, tokens.output);
    assert.equal(r.batch_lines, 25);
    assert.deepEqual(r.total.status, { completed: 25 });
    assert.equal(r.total.unpriced_lines, 1);
    assert.deepEqual(r.left_out, [{ reason: 'no price', model: 'acme-7b', lines: 1 }]);
    assert.ok(!r.breakdowns[0]!.groups.some((g) => g.key.model === '(none)'), 'every line has its model');
    assert.ok(r.warnings.some((w) => /1 line with usage but no price .*acme-7b \(1 line\)/.test(w)), r.warnings.join('\n'));

    const table1 = await rp.report([out], { format: 'table', by: 'model' });
    assert.match(table1, /note: 1 line with usage but no price .*acme-7b \(1 line\)/);
    assert.match(table1, /^25 lines in 1 file, cost \$/);
    const md = await rp.report([out], { format: 'markdown', by: 'status' });
    assert.match(md, /> Note: 1 line with usage but no price .*acme-7b/);
    const html = await rp.report([out], { format: 'html', by: 'status' });
    assert.match(html, /<p class="note">1 line with usage but no price .*acme-7b/);
    const csv = await rp.report([out], { format: 'csv', by: 'status' });
    const csvRows = csv.trim().split('\n').map((row) => row.split(','));
    const head = csvRows[0]!;
    const leftOut = csvRows.find((row) => row[0] === 'left_out: no price')!;
    assert.ok(leftOut, csv);
    assert.equal(leftOut[head.indexOf('model')], 'acme-7b');
    assert.equal(leftOut[head.indexOf('lines')], '1');
  });
});
