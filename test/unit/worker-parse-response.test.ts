import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseResponse } from '../../src/worker/parse-response.js';

/** A real reply (o4-mini through a router), converted from the Python dict it was printed as. */
const seed = JSON.parse(readFileSync(new URL('./fixtures/seed-response.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function response(output: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'resp_1',
    object: 'response',
    status: 'completed',
    model: 'm-1',
    output,
    error: null,
    incomplete_details: null,
    usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
    ...extra,
  };
}

const text = (t: string) => ({ type: 'output_text', text: t, annotations: [] });
const message = (...content: unknown[]) => ({ type: 'message', id: 'msg', status: 'completed', role: 'assistant', content });

describe('parseResponse', () => {
  it('reads the real seed reply: reasoning item first, then the message', () => {
    const p = parseResponse(seed, false);
    assert.equal(p.status, 'completed');
    assert.equal(p.rawStatus, 'completed');
    assert.equal(p.responseId, 'resp_07223b6d861d05ef00699976bc037481948075cde62d82e221');
    assert.equal(p.model, 'o4-mini');
    assert.ok(p.outputText?.startsWith('Developers’ fondness for dark mode'));
    assert.ok(p.outputText?.endsWith('over long coding sessions.'));
    assert.equal(p.refusal, null);
    assert.equal(p.error, null);
    assert.equal(p.incompleteReason, null);
    assert.deepEqual(p.usage, {
      input_tokens: 13,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 720,
      output_tokens_details: { reasoning_tokens: 192 },
      total_tokens: 733,
    });
    assert.equal('parsed' in p, false);
    assert.equal('parseError' in p, false);
  });

  it('joins output_text parts split mid-sentence, across messages, in order, with nothing added', () => {
    const p = parseResponse(response([message(text('The quick br'), text('own fox')), message(text(' jumps.'))]), false);
    assert.equal(p.outputText, 'The quick brown fox jumps.');
  });

  it('skips reasoning, function calls, non-assistant messages and unknown item types', () => {
    const p = parseResponse(
      response([
        { type: 'reasoning', id: 'rs', summary: [{ type: 'summary_text', text: 'thinking' }] },
        { type: 'acme:search_call', id: 'x', weird: { nested: true } },
        { type: 'function_call', id: 'fc', call_id: 'c', name: 'f', arguments: '{}' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'echo' }] },
        message({ type: 'acme:annotation', text: 'no' }, text('answer')),
        'junk',
        null,
      ]),
      false,
    );
    assert.equal(p.outputText, 'answer');
  });

  it('accepts a message without a role as the assistant', () => {
    const p = parseResponse(response([{ type: 'message', content: [text('hi')] }]), false);
    assert.equal(p.outputText, 'hi');
  });

  it('collects refusal parts into refusal, with no output text', () => {
    const p = parseResponse(response([message({ type: 'refusal', refusal: "I can't " }, { type: 'refusal', refusal: 'help with that.' })]), false);
    assert.equal(p.refusal, "I can't help with that.");
    assert.equal(p.outputText, null);
  });

  it('keeps partial text and the reason of an incomplete response', () => {
    const p = parseResponse(
      response([{ ...message(text('partial ans')), status: 'incomplete' }], { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } }),
      true,
    );
    assert.equal(p.status, 'incomplete');
    assert.equal(p.outputText, 'partial ans');
    assert.equal(p.incompleteReason, 'max_output_tokens');
    assert.equal('parsed' in p, false, 'partial JSON is not parsed');
    assert.equal('parseError' in p, false);
  });

  it('reads the error of a failed response', () => {
    const p = parseResponse(response([], { status: 'failed', error: { code: 'server_error', message: 'boom' }, usage: null }), false);
    assert.equal(p.status, 'failed');
    assert.deepEqual(p.error, { code: 'server_error', message: 'boom' });
    assert.equal(p.outputText, null);
  });

  it('always gives a failed response an error', () => {
    assert.deepEqual(parseResponse(response([], { status: 'failed', error: null }), false).error, {
      code: 'unknown',
      message: 'the response failed without error details',
    });
  });

  it("folds other statuses to 'other', keeping the raw one", () => {
    for (const raw of ['queued', 'in_progress', 'cancelled', 'acme:paused']) {
      const p = parseResponse(response([], { status: raw }), false);
      assert.equal(p.status, 'other');
      assert.equal(p.rawStatus, raw);
    }
    assert.equal(parseResponse(response([], { status: undefined }), false).rawStatus, '(missing status)');
  });

  it('keeps a null usage, and a usage with extra keys exactly as returned', () => {
    assert.equal(parseResponse(response([message(text('x'))], { usage: null }), false).usage, null);
    const usage = { input_tokens: 1, output_tokens: 2, total_tokens: 99, cost: 0.0012, input_tokens_details: { cached_tokens: 1 } };
    assert.deepEqual(parseResponse(response([message(text('x'))], { usage }), false).usage, usage);
  });

  it('is lenient about missing fields', () => {
    const p = parseResponse({ status: 'completed' }, false);
    assert.deepEqual(p, {
      status: 'completed',
      rawStatus: 'completed',
      responseId: null,
      model: null,
      outputText: null,
      refusal: null,
      usage: null,
      incompleteReason: null,
      error: null,
      serviceTier: null,
    });
  });

  it("reads the tier that served the call from the response's service_tier", () => {
    assert.equal(parseResponse({ status: 'completed', service_tier: 'flex' }, false).serviceTier, 'flex');
    assert.equal(parseResponse({ status: 'completed', service_tier: 7 }, false).serviceTier, null);
  });

  it("returns 'other' for a body that is not an object", () => {
    for (const [json, kind] of [[null, 'null'], [[1], 'an array'], ['text', 'a string'], [3, 'a number']] as const) {
      const p = parseResponse(json, false);
      assert.equal(p.status, 'other');
      assert.equal(p.rawStatus, `(not a response object: got ${kind})`);
    }
  });

  it('parses JSON output when asked', () => {
    const p = parseResponse(response([message(text('{"a":'), text(' [1, 2]}'))]), true);
    assert.deepEqual(p.parsed, { a: [1, 2] });
    assert.equal(p.parseError, undefined);
  });

  it('reports invalid JSON output without throwing', () => {
    const p = parseResponse(response([message(text('{"a": 1'))]), true);
    assert.equal('parsed' in p, false);
    assert.match(p.parseError ?? '', /^output text is not valid JSON/);
    assert.equal(p.outputText, '{"a": 1');
  });

  it('explains a missing parse when there was no text, or a refusal', () => {
    assert.equal(parseResponse(response([]), true).parseError, 'no output text to parse as JSON');
    assert.match(parseResponse(response([message({ type: 'refusal', refusal: 'no' })]), true).parseError ?? '', /refused/);
  });

  it('does not parse when JSON was not asked for', () => {
    const p = parseResponse(response([message(text('{"a":1}'))]), false);
    assert.equal('parsed' in p, false);
  });
});
