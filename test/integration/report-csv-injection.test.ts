import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';

/**
 * Text from a model's answer or an API error must not open as a live formula in a spreadsheet:
 * `export` and `report -f csv` neutralise it (a leading ' and quotes) unless --csv-raw.
 */
const EVIL_ANSWER = '=HYPERLINK("http://evil.example","click")';
const EVIL_ERROR = '@SUM(1+1)*cmd|\' /C calc\'!A0';

describe('CSV formula injection', () => {
  let dir: string;
  let results: string;
  let input: string;
  before(async () => {
    dir = await tempDir();
    results = path.join(dir, 'results.jsonl');
    input = path.join(dir, 'input.csv');
    const base = { run: 'r', finished_at: '2026-01-01T00:00:00.000Z', attempts: 1, latency_ms: 5, response_id: null, output_text: null };
    const lines = [
      { ...base, custom_id: 'r1', status: 'completed', model: '-cmd-model', parsed: { label: EVIL_ANSWER, score: -3 }, usage: { input_tokens: 10, output_tokens: 2 }, cost: { total: 0.001, currency: 'USD', source: 'price_table' } },
      { ...base, custom_id: 'r2', status: 'failed', model: 'gpt-4o', usage: null, cost: null, error: { type: '+type', message: EVIL_ERROR, status: 400 } },
    ];
    await writeFile(results, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    await writeFile(input, 'id,text,amount\nr1,=1+2,-5\nr2,hello,+7\nr3,\t=x,3\n');
  });

  it('export: answer fields, error messages and input cells that look like formulas are neutralised; numbers stay numbers', async () => {
    const out = path.join(dir, 'out.csv');
    const res = await runCli(['export', results, '--join', input, '--id-column', 'id', '--out', out]);
    assert.equal(res.code, 0, res.stderr);
    const rows = (await readFile(out, 'utf8')).split('\r\n');
    assert.equal(rows[0], 'id,text,amount,label,score,status,error,cost');
    assert.equal(rows[1], `r1,"'=1+2",-5,"'=HYPERLINK(""http://evil.example"",""click"")",-3,completed,,0.001`);
    assert.equal(rows[2], `r2,hello,+7,,,failed,"'${EVIL_ERROR.replace(/"/g, '""')}",`);
    assert.equal(rows[3], `r3,"'\t=x",3,,,no_result,,`);
  });

  it('export --csv-raw writes the cells as they are', async () => {
    const out = path.join(dir, 'raw.csv');
    const res = await runCli(['export', results, '--join', input, '--id-column', 'id', '--out', out, '--csv-raw']);
    assert.equal(res.code, 0, res.stderr);
    const rows = (await readFile(out, 'utf8')).split('\r\n');
    assert.equal(rows[1], `r1,=1+2,-5,"=HYPERLINK(""http://evil.example"",""click"")",-3,completed,,0.001`);
    assert.equal(rows[2], `r2,hello,+7,,,failed,${EVIL_ERROR},`);
  });

  it('report -f csv: model names and error types are neutralised, figures are not; --csv-raw keeps them', async () => {
    const res = await runCli(['report', results, '-f', 'csv', '--by', 'model,error']);
    assert.equal(res.code, 0, res.stderr);
    const rows = res.stdout.trim().split('\n');
    assert.ok(rows.some((r) => r.startsWith(`model,"'-cmd-model",,1,1,0,10,0,2,0,0.001`)), rows.join('\n'));
    assert.ok(rows.some((r) => r.startsWith(`error,,"'+type",1,0,1,`)), rows.join('\n'));
    for (const r of rows) for (const cell of r.split(',')) assert.doesNotMatch(cell, /^[=+@\t\r]|^-[^\d.]/, r);
    const raw = await runCli(['report', results, '-f', 'csv', '--by', 'model,error', '--csv-raw']);
    assert.equal(raw.code, 0, raw.stderr);
    assert.ok(raw.stdout.split('\n').some((r) => r.startsWith('model,-cmd-model,,1,')), raw.stdout);
  });
});
