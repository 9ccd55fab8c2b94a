import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OutputLine } from '../../src/core/output-line.js';
import { sampleFromSchema } from '../../src/fake-server/json-answer.js';
import { findMagic } from '../../src/fake-server/magic.js';
import { answerText } from '../../src/fake-server/respond.js';
import { cellText, csvRow, flattenParsed } from '../../src/sinks/export/flatten.js';
import { exportFormatFor, resultColumns } from '../../src/sinks/export/join.js';
import { formatLine, toBatchLine } from '../../src/sinks/formats/openai-batch.js';
import { labelSchema } from '../../src/config/label-schema.js';

const line = (over: Partial<OutputLine>): OutputLine => ({
  custom_id: 'c1',
  status: 'completed',
  model: 'm',
  output_text: '{"label":"a"}',
  usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
  response_id: 'resp_1',
  attempts: 1,
  latency_ms: 5,
  source: { file: 'x.csv', line: 2 },
  run: 'r',
  finished_at: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('openai-batch lines', () => {
  it('a kept HTTP answer is the response, byte for byte; the id comes from the job id', () => {
    const body = { id: 'resp_1', object: 'response', status: 'completed', output: [], extra: { kept: true } };
    const out = toBatchLine(line({ http: { status_code: 200, request_id: 'req_9', body } }), 'i0123abcd');
    assert.deepEqual(out, { id: 'batch_req_0123abcd', custom_id: 'c1', response: { status_code: 200, request_id: 'req_9', body }, error: null });
  });

  it('without a kept answer, a completed line rebuilds a minimal ResponseResource from its fields', () => {
    const out = toBatchLine(line({ refusal: 'no' }), 'i1');
    assert.equal(out.response?.status_code, 200);
    assert.equal(out.response?.request_id, null);
    assert.deepEqual(out.response?.body, {
      id: 'resp_1', object: 'response', status: 'completed', incomplete_details: null, model: 'm',
      output: [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: '{"label":"a"}', annotations: [] }, { type: 'refusal', refusal: 'no' }] }],
      usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 }, error: null,
    });
    assert.equal(out.error, null);
  });

  it('HTTP errors keep their status and an error body; no HTTP answer means response null and error set', () => {
    const http400 = toBatchLine(line({ status: 'failed', output_text: null, error: { type: 'invalid_request', message: 'HTTP 400 bad', status: 400 } }), 'i1');
    assert.deepEqual(http400.response, { status_code: 400, request_id: null, body: { error: { message: 'HTTP 400 bad', type: 'invalid_request', param: null, code: null } } });
    assert.equal(http400.error, null);
    const rejected = toBatchLine(line({ status: 'rejected', output_text: null, error: { type: 'rejected_input', message: 'x.csv:2: bad', status: null } }), 'i1');
    assert.deepEqual([rejected.response, rejected.error], [null, { code: 'rejected_input', message: 'x.csv:2: bad' }]);
    const timeout = toBatchLine(line({ status: 'failed', error: { type: 'timeout', message: 'slow', status: null } }), 'i1');
    assert.equal(timeout.response, null);
  });

  it('invalid_output keeps the answer and says why in error', () => {
    const out = toBatchLine(line({ status: 'invalid_output', error: { type: 'invalid_output', message: 'no match', status: null } }), 'i1');
    assert.equal(out.response?.status_code, 200);
    assert.deepEqual(out.error, { code: 'invalid_output', message: 'no match' });
  });

  it('respool format writes the delivered text as it is, and never the kept HTTP answer', () => {
    assert.equal(formatLine('respool', line({}), 'i1', 'TEXT'), 'TEXT');
    const withHttp = JSON.parse(formatLine('respool', line({ http: { status_code: 200, request_id: null, body: {} } }), 'i1', 'TEXT')) as Record<string, unknown>;
    assert.equal('http' in withHttp, false);
    assert.equal(withHttp.custom_id, 'c1');
  });
});

describe('export: flattening and cells', () => {
  it('nested objects become dotted columns; lists stay one value; a bare answer is `answer`', () => {
    assert.deepEqual(flattenParsed({ a: 1, addr: { city: 'P', geo: { lat: 1 } }, tags: ['x', 'y'], empty: {} }), { a: 1, 'addr.city': 'P', 'addr.geo.lat': 1, tags: ['x', 'y'], empty: {} });
    assert.deepEqual(flattenParsed('yes'), { answer: 'yes' });
    assert.deepEqual(flattenParsed(null), {});
  });
  it('cells: scalar lists joined with |, other values as JSON, null empty; CSV quoting', () => {
    assert.equal(cellText(['billing', 'shipping']), 'billing|shipping');
    assert.equal(cellText([{ a: 1 }]), '[{"a":1}]');
    assert.equal(cellText(null), '');
    assert.equal(cellText(0.5), '0.5');
    assert.equal(csvRow(['a', 'b,c', 'say "hi"', 'two\nlines']), 'a,"b,c","say ""hi""","two\nlines"\r\n');
  });
  it('result columns after the input ones; a name the input uses gets `result.`', () => {
    assert.deepEqual(resultColumns(['id', 'text', 'label'], ['label', 'score', 'status'], true).map((c) => c.name), ['result.label', 'score', 'result.status', 'status', 'error', 'cost', 'agreement']);
    assert.deepEqual(resultColumns(['id', 'status'], [], false).map((c) => c.name), ['result.status', 'error', 'cost']);
  });
  it('format from --format or the extension', () => {
    assert.equal(exportFormatFor('a.CSV'), 'csv');
    assert.equal(exportFormatFor('a.jsonl'), 'jsonl');
    assert.equal(exportFormatFor('a.txt'), null);
    assert.equal(exportFormatFor('a.txt', 'jsonl'), 'jsonl');
  });
});

describe('fake server: structured answers', () => {
  const single = labelSchema({ values: ['positive', 'negative', 'neutral'], multi: false });
  const multi = labelSchema({ values: ['billing', 'shipping', 'quality'], multi: true });
  const body = (schema: unknown) => ({ text: { format: { type: 'json_schema', name: 'l', schema } } });
  const ask = (schema: unknown, prompt: string, callIndex = 0) => JSON.parse(answerText(body(schema), prompt, findMagic(prompt), callIndex)) as Record<string, unknown>;

  it('a label the prompt names is the answer; otherwise the same prompt always gets the same label', () => {
    assert.deepEqual(ask(single, 'This is clearly NEGATIVE.'), { label: 'negative' });
    assert.deepEqual(ask(multi, 'quality is fine, shipping was slow'), { labels: ['shipping', 'quality'] });
    const first = ask(single, 'Great kettle');
    for (let i = 0; i < 3; i++) assert.deepEqual(ask(single, 'Great kettle'), first);
    const seen = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((p) => String(ask(single, `prompt ${p}`).label)));
    assert.ok(seen.size > 1, 'different prompts get different labels');
    assert.deepEqual(sampleFromSchema(single), { label: 'positive' }, 'without a prompt: the first value, as before');
  });

  it('[[votes]] answers call k with vote k; + for several labels, - for none', () => {
    const p = 'x [[votes:negative|neutral]]';
    assert.deepEqual([0, 1, 2].map((k) => ask(single, p, k).label), ['negative', 'neutral', 'negative']);
    assert.deepEqual([0, 1].map((k) => ask(multi, 'y [[votes:billing+quality|-]]', k).labels), [['billing', 'quality'], []]);
  });

  it('[[invalid_schema]] and [[invalid_first:N]] give JSON that breaks the schema', () => {
    assert.deepEqual(Object.keys(ask(single, 'z [[invalid_schema]]')), ['note']);
    assert.deepEqual([0, 1, 2].map((k) => 'label' in ask(single, 'negative [[invalid_first:2]]', k)), [false, false, true]);
  });
});
