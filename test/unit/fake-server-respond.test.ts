import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_MAGIC, findMagic, type Magic } from '../../src/fake-server/magic.js';
import { buildResponse, splitInTwo, type OutputItem, type ResponseResource } from '../../src/fake-server/respond.js';
import { checkCreateBody } from '../../src/fake-server/validate.js';

let n = 0;
const ctx = { id: (p: string) => `${p}${(n++).toString(16)}`, createdAt: 1000, completedAt: 1002 };

function textOf(r: ResponseResource): string {
  return r.output
    .filter((i): i is Extract<OutputItem, { type: 'message' }> => i.type === 'message')
    .flatMap((m) => m.content)
    .map((p) => (p.type === 'output_text' ? p.text : ''))
    .join('');
}

test('magic tokens are found anywhere in the text', () => {
  assert.deepEqual(findMagic('plain'), NO_MAGIC);
  const m = findMagic('a [[status:503]] b [[latency:250]] [[refuse]] [[incomplete]] [[failed]] [[invalid_json]]');
  assert.deepEqual(m, { status: 503, latencyMs: 250, refuse: true, incomplete: true, failed: true, invalidJson: true, invalidSchema: false, invalidFirst: 0, votes: null });
  assert.deepEqual(
    (({ invalidSchema, invalidFirst, votes }) => ({ invalidSchema, invalidFirst, votes }))(findMagic('[[invalid_schema]] [[invalid_first:3]] [[votes:a+b|c]]')),
    { invalidSchema: true, invalidFirst: 3, votes: ['a+b', 'c'] },
  );
  assert.equal(findMagic('[[status:200]]').status, null, 'only error statuses are forced');
});

test('a completed answer is a reasoning item then a message whose two parts join to the echo', () => {
  const r = buildResponse({ model: 'm', input: 'What is the capital of France?' }, NO_MAGIC, ctx);
  assert.equal(r.status, 'completed');
  assert.equal(r.output[0]?.type, 'reasoning');
  const msg = r.output[1];
  assert.ok(msg && msg.type === 'message');
  assert.equal(msg.content.length, 2);
  assert.equal(textOf(r), 'Echo: What is the capital of France?');
  assert.equal(r.created_at, 1000);
  assert.equal(r.completed_at, 1002);
  assert.match(r.id, /^resp_[0-9a-f]+$/);
});

test('request settings are echoed, with defaults when absent', () => {
  const r = buildResponse(
    { model: 'gpt-x', input: 'hi', instructions: 'be brief', temperature: 0.2, max_output_tokens: 64, metadata: { a: 'b' }, store: true, reasoning: { effort: 'low' } },
    NO_MAGIC,
    ctx,
  );
  assert.equal(r.model, 'gpt-x');
  assert.equal(r.instructions, 'be brief');
  assert.equal(r.temperature, 0.2);
  assert.equal(r.top_p, 1);
  assert.equal(r.max_output_tokens, 64);
  assert.deepEqual(r.metadata, { a: 'b' });
  assert.equal(r.store, true);
  assert.deepEqual(r.reasoning, { effort: 'low', summary: null });
  assert.deepEqual(r.text, { format: { type: 'text' } });
  const d = buildResponse({ model: 'm', input: 'hi' }, NO_MAGIC, ctx);
  assert.equal(d.temperature, 1);
  assert.equal(d.store, false);
  assert.equal(d.reasoning, null);
  assert.deepEqual(d.metadata, {});
  assert.equal(d.tool_choice, 'auto');
});

test('incomplete keeps half of the text and marks message and response', () => {
  const magic: Magic = { ...NO_MAGIC, incomplete: true };
  const r = buildResponse({ model: 'm', input: 'abcdefghij' }, magic, ctx);
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(textOf(r), 'Echo: abcdefghij'.slice(0, 8));
  assert.equal((r.output[1] as { status: string }).status, 'incomplete');
});

test('refusal and failure shapes', () => {
  const refused = buildResponse({ model: 'm', input: 'x' }, { ...NO_MAGIC, refuse: true }, ctx);
  const msg = refused.output[1];
  assert.ok(msg && msg.type === 'message');
  assert.equal(msg.content[0]?.type, 'refusal');
  assert.equal(textOf(refused), '');
  const failed = buildResponse({ model: 'm', input: 'x' }, { ...NO_MAGIC, failed: true }, ctx);
  assert.equal(failed.status, 'failed');
  assert.deepEqual(failed.output, []);
  assert.equal(failed.error?.code, 'server_error');
  assert.equal(failed.usage, null);
});

test('splitting never separates a surrogate pair', () => {
  assert.deepEqual(splitInTwo('abcd'), ['ab', 'cd']);
  assert.deepEqual(splitInTwo('a😀b'), ['a', '😀b']);
  assert.deepEqual(splitInTwo(''), ['', '']);
});

test('body checks name the bad field', () => {
  assert.deepEqual(checkCreateBody({ model: 'm', input: 'x' }), { ok: true });
  const cases: Array<[unknown, string | null]> = [
    [{ model: 'm', input: 'x', temperature: 'hot' }, 'temperature'],
    [{ model: 'm', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text' }] }] }, 'input[0].content[0].text'],
    [{ model: 'm', input: 'x', max_output_tokens: 3 }, 'max_output_tokens'],
    [{ input: 'x' }, 'model'],
    [{ model: '', input: 'x' }, 'model'],
    [{ model: 'm' }, 'input'],
    [{ model: 'm', input: 'x', stream: true }, 'stream'],
    [[1, 2], null],
  ];
  for (const [body, param] of cases) {
    const check = checkCreateBody(body);
    assert.equal(check.ok, false, JSON.stringify(body));
    if (!check.ok) assert.equal(check.param, param, JSON.stringify(body));
  }
});
