import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReportAggregator } from '../../src/report/aggregate.js';
import { formatCsv } from '../../src/report/formats.js';
import { csvTextCell, isFormulaLike } from '../../src/sinks/export/csv-cell.js';

describe('CSV cells a spreadsheet cannot run', () => {
  it('prefixes formula-like text with a single quote and quotes it', () => {
    assert.equal(csvTextCell('=HYPERLINK("http://x","click")'), `"'=HYPERLINK(""http://x"",""click"")"`);
    for (const t of ['+1+cmd', '-2+3+cmd|\' /C calc\'!A0', '@SUM(A1)', '\t=1', '\r=1']) {
      assert.ok(isFormulaLike(t), JSON.stringify(t));
      assert.equal(csvTextCell(t), `"'${t.replace(/"/g, '""')}"`);
    }
  });

  it('leaves ordinary text and plain numbers written as text alone', () => {
    for (const t of ['positive', 'a=b', '', '-5', '+1.5e3', '-0', '-.25', '3']) assert.equal(isFormulaLike(t), false, t);
    assert.equal(csvTextCell('-5'), '-5');
    assert.equal(csvTextCell('say "hi", then go'), '"say ""hi"", then go"');
  });

  it('writes text as it is when raw', () => {
    assert.equal(csvTextCell('=1+1', true), '=1+1');
    assert.equal(csvTextCell('=1,2', true), '"=1,2"');
  });
});

describe('report csv: names from results files', () => {
  const lines = [
    { status: 'failed', model: '=HYPERLINK("http://evil","x")', error: { type: '@cmd' }, usage: null, cost: null, finished_at: '2026-01-01T00:00:00Z' },
    { status: 'completed', model: 'gpt-4o', usage: { input_tokens: 10, output_tokens: 5 }, cost: { total: 0.5 }, finished_at: '2026-01-01T00:00:00Z' },
  ];
  const agg = new ReportAggregator([['model'], ['error']]);
  for (const l of lines) agg.add(l);

  it('neutralises model names and error types; figures stay numbers', () => {
    const rows = formatCsv(agg).trim().split('\n');
    assert.ok(rows.includes(`model,"'=HYPERLINK(""http://evil"",""x"")",,1,0,1,0,0,0,0,0`), rows.join('\n'));
    assert.ok(rows.some((r) => r.startsWith(`error,,"'@cmd",1,`)), rows.join('\n'));
    assert.ok(rows.some((r) => r.startsWith('model,gpt-4o,,1,1,0,10,0,5,0,0.5')), rows.join('\n'));
    for (const r of rows) assert.doesNotMatch(r, /(^|,)[=@]/, r);
  });

  it('csvRaw writes the names as they are', () => {
    assert.ok(formatCsv(agg, { csvRaw: true }).includes(`model,"=HYPERLINK(""http://evil"",""x"")",`));
  });
});
