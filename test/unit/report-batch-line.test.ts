import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costNanos, lineCost, usageCounts } from '../../src/cost/compute.js';
import { findPrice, parsePriceFile } from '../../src/cost/prices.js';
import { parseBy, ReportAggregator } from '../../src/report/aggregate.js';
import { formatCsv, formatTable } from '../../src/report/formats.js';
import { isBatchLine, readBatchLine } from '../../src/sinks/export/batch-line.js';

const usage = { input_tokens: 120, input_tokens_details: { cached_tokens: 20 }, output_tokens: 30, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 150 };
const body = (over: Record<string, unknown> = {}) => ({ id: 'resp_1', object: 'response', created_at: 1_764_806_400, status: 'completed', model: 'gpt-4o-2024-08-06', output: [], usage, error: null, ...over });
const batch = (response: unknown, error: unknown = null) => ({ id: 'batch_req_1', custom_id: 'c1', response, error });

describe('provider batch lines', () => {
  it('tells batch lines from respool lines', () => {
    assert.equal(isBatchLine(batch({ status_code: 200, body: body() })), true);
    assert.equal(isBatchLine({ custom_id: 'x', status: 'completed', response: null }), false);
  });

  it('reads status, model, usage, error and day from the response', () => {
    const ok = readBatchLine(batch({ status_code: 200, request_id: 'req_1', body: body() }));
    assert.deepEqual({ status: ok.status, model: ok.model, usage: ok.usage, errorType: ok.errorType, finishedAt: ok.finishedAt }, { status: 'completed', model: 'gpt-4o-2024-08-06', usage, errorType: null, finishedAt: '2025-12-04T00:00:00.000Z' });
    const http = readBatchLine(batch({ status_code: 400, body: { error: { message: 'The request was rejected.', type: 'invalid_request_error', code: 'invalid_request' } } }));
    assert.deepEqual([http.status, http.errorType, http.errorMessage, http.usage], ['failed', 'invalid_request_error', 'The request was rejected.', null]);
    assert.equal(readBatchLine(batch(null, { code: 'rejected_input', message: 'x.jsonl:3: bad' })).status, 'rejected');
    assert.equal(readBatchLine(batch(null, { code: 'max_cost', message: 'not sent' })).status, 'skipped');
    assert.equal(readBatchLine(batch(null, { code: 'timeout', message: 'timed out' })).status, 'failed');
    const refused = readBatchLine(batch({ status_code: 200, body: body() }, { code: 'invalid_output', message: 'does not match' }));
    assert.deepEqual([refused.status, refused.usage], ['invalid_output', usage], 'a refused answer was billed: its usage is kept');
    assert.equal(readBatchLine(batch({ status_code: 200, body: body({ status: 'incomplete' }) })).errorType, 'incomplete');
  });

  it('the report prices batch lines from their usage, and counts what it cannot price by model', () => {
    const table = parsePriceFile({ models: { 'gpt-4o': { input: 2.5, cached_input: 1.25, output: 10 } } }, 't');
    const agg = new ReportAggregator(parseBy('model,status,day'), (model, u) => lineCost(u, model === null ? null : findPrice(table, model)));
    agg.add(batch({ status_code: 200, body: body() }));
    agg.add(batch({ status_code: 200, body: body() }, { code: 'invalid_output', message: 'no' }));
    agg.add(batch({ status_code: 200, body: body({ model: 'acme-7b' }) }));
    agg.add(batch({ status_code: 200, body: body({ usage: null }) }));
    agg.add(batch(null, { code: 'rejected_input', message: 'bad' }));
    const one = costNanos(usageCounts(usage)!, findPrice(table, 'gpt-4o')!).total;
    assert.equal(agg.total.costNanos, 2 * one);
    assert.deepEqual(agg.total.byStatus, { completed: 3, invalid_output: 1, rejected: 1 });
    assert.equal(agg.total.unpriced, 2);
    assert.deepEqual(agg.leftOutList(), [{ reason: 'no price', model: 'acme-7b', lines: 1 }, { reason: 'no usage', model: 'gpt-4o-2024-08-06', lines: 1 }]);
    assert.equal(agg.batchLines, 5);
    assert.deepEqual([...agg.byDay.keys()].sort(), ['(none)', '2025-12-04']);
    // A model none of whose lines could be priced: its cost is unknown, not $0.00 (an empty CSV cell).
    assert.match(formatTable(agg, { files: ['f'] }), /\nacme-7b +1 .* unknown +1\n/);
    const csv = formatCsv(agg).split('\n');
    const head = csv[0]!.split(',');
    const acme = csv.find((r) => r.startsWith('model,acme-7b,'))!.split(',');
    assert.equal(acme[head.indexOf('cost_usd')], '');
  });
});

describe('report: duplicate lines', () => {
  it('add their cost of 0 and none of their tokens, and are not left out', () => {
    const agg = new ReportAggregator([]);
    agg.add({ custom_id: 'a', status: 'completed', model: 'm', usage, cost: { total: 0.5, source: 'price_table' } });
    agg.add({ custom_id: 'b', status: 'completed', model: 'm', usage, cost: { total: 0, source: 'price_table' }, duplicate_of: 'a' });
    assert.deepEqual(agg.total.tokens, { input: 120, cached: 20, output: 30, reasoning: 0 });
    assert.equal(agg.total.costNanos, 500_000_000);
    assert.deepEqual(agg.leftOutList(), []);
  });
});
