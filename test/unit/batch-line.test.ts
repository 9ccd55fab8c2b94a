import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerOfBatchLine } from '../../src/batch/batch-line.js';
import type { BatchOutputLine } from '../../src/batch/types.js';
import type { JobData } from '../../src/core/item.js';
import type { RunSettings } from '../../src/queue/run-meta.js';

type ItemJob = Extract<JobData, { type: 'item' }>;

const settings = { run: 'r', model: 'gpt-4o-mini', request: {}, detail: 'auto', attempts: 3, outputFormat: 'respool' } as unknown as RunSettings;
const item: ItemJob = { type: 'item', run: 'r', customId: 'c1', source: { file: 'in.jsonl', line: 1 }, request: { kind: 'prompt', text: 'hi', images: [] } };

function response(body: unknown, status = 200): BatchOutputLine {
  return { id: 'batch_req_1', custom_id: 'i1', response: { status_code: status, request_id: 'req_1', body }, error: null };
}

const completed = {
  id: 'resp_1',
  object: 'response',
  status: 'completed',
  model: 'gpt-4o-mini-2024',
  output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'hello' }] }],
  usage: { input_tokens: 3, output_tokens: 1, total_tokens: 4 },
};

describe('a batch output line as the item\'s results line', () => {
  it('a 200 answer reads as the online answer would, with tier batch', async () => {
    const a = await answerOfBatchLine(response(completed), item, settings, 0);
    assert.equal(a.kind, 'line');
    if (a.kind !== 'line') return;
    assert.equal(a.line.status, 'completed');
    assert.equal(a.line.output_text, 'hello');
    assert.equal(a.line.model, 'gpt-4o-mini-2024');
    assert.equal(a.line.response_id, 'resp_1');
    assert.deepEqual(a.line.usage, completed.usage);
    assert.equal(a.line.attempts, 1);
    assert.equal(a.line.service_tier, 'batch');
    assert.equal(a.line.custom_id, 'c1');
  });

  it('an incomplete answer keeps its output and says why', async () => {
    const a = await answerOfBatchLine(response({ ...completed, status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } }), item, settings, 0);
    assert.ok(a.kind === 'line' && a.line.status === 'incomplete' && a.line.error?.message === 'max_output_tokens');
  });

  it('a 500 is worth another try until the attempts are used, then a failed line', async () => {
    const err = { error: { message: 'boom', type: 'server_error' } };
    assert.deepEqual((await answerOfBatchLine(response(err, 500), item, settings, 0)).kind, 'again');
    const again = await answerOfBatchLine(response(err, 500), item, settings, 1);
    assert.ok(again.kind === 'again' && again.counts);
    const last = await answerOfBatchLine(response(err, 500), item, settings, 2);
    assert.ok(last.kind === 'line' && last.line.status === 'failed' && last.line.error?.type === 'server_error' && last.line.attempts === 3);
  });

  it('an error-file line with a refusal code is final; an unknown code is tried again, using an attempt', async () => {
    const refused = await answerOfBatchLine({ id: 'x', custom_id: 'i1', response: null, error: { code: 'model_not_found', message: 'no such model' } }, item, settings, 0);
    assert.ok(refused.kind === 'line' && refused.line.status === 'failed' && refused.line.error?.type === 'invalid_request');
    const unknown = await answerOfBatchLine({ id: 'x', custom_id: 'i1', response: null, error: { code: 'odd', message: '?' } }, item, settings, 0);
    assert.ok(unknown.kind === 'again' && unknown.counts);
  });

  it('a 400 is final at once', async () => {
    const a = await answerOfBatchLine(response({ error: { message: 'bad model', type: 'invalid_request_error' } }, 400), item, settings, 0);
    assert.ok(a.kind === 'line' && a.line.status === 'failed' && a.line.error?.type === 'invalid_request' && a.line.error.status === 400);
  });

  it('an expired or cancelled request was never run: sent again without using an attempt', async () => {
    const a = await answerOfBatchLine({ id: 'x', custom_id: 'i1', response: null, error: { code: 'batch_expired', message: 'window over' } }, item, settings, 2);
    assert.ok(a.kind === 'again' && !a.counts && /window over/.test(a.reason), JSON.stringify(a));
  });

  it('a run with a schema checks the batch answer once, without re-asks', async () => {
    const schema = { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false };
    const structured = { ...settings, structured: { schema, samples: 1, invalidRetries: 2 } } as RunSettings;
    const good = await answerOfBatchLine(response({ ...completed, output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: '{"label":"x"}' }] }] }), item, structured, 0);
    assert.ok(good.kind === 'line' && good.line.status === 'completed');
    if (good.kind === 'line') assert.deepEqual(good.line.parsed, { label: 'x' });
    const bad = await answerOfBatchLine(response(completed), item, structured, 0);
    assert.ok(bad.kind === 'line' && bad.line.status === 'invalid_output' && bad.line.service_tier === 'batch', JSON.stringify(bad));
  });
});
