import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCreateBody, loadSpec } from '../../src/fake-server/validate.js';
import { chatCompletionsToResponses, MIN_OUTPUT_TOKENS } from '../../src/inputs/chat-completions.js';
import { batchLineToResponses } from '../../src/inputs/openai-batch.js';

type Body = Record<string, unknown>;

/** The fields `CreateResponseBody` has: the spec allows unknown ones, so the schema alone would not catch a stray field. */
const SPEC_FIELDS = new Set(Object.keys(((loadSpec() as { components: { schemas: Record<string, { properties: Body }> } }).components.schemas.CreateResponseBody as { properties: Body }).properties));

/** Converts and checks the result against the OpenResponses spec. */
function convert(chat: Body): Body {
  const result = chatCompletionsToResponses(chat);
  assert.ok(result.ok, `expected a conversion, got ${JSON.stringify(result)}`);
  const check = checkCreateBody(result.body);
  assert.ok(check.ok, `the converted body does not follow the spec: ${JSON.stringify(check)}\n${JSON.stringify(result.body)}`);
  for (const key of Object.keys(result.body)) assert.ok(SPEC_FIELDS.has(key), `"${key}" is not a CreateResponseBody field`);
  return result.body;
}

function refusal(chat: Body): string {
  const result = chatCompletionsToResponses(chat);
  assert.equal(result.ok, false, `expected a refusal, got ${JSON.stringify(result)}`);
  return (result as { reason: string }).reason;
}

const user = (content: unknown) => ({ role: 'user', content });

describe('chat completions → responses: messages', () => {
  it('turns system, developer, user and assistant messages into input items, keeping the body model', () => {
    const body = convert({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        user('Hello'),
        { role: 'assistant', content: 'Bonjour' },
        user([{ type: 'text', text: 'And goodbye?' }]),
      ],
    });
    assert.deepEqual(body, {
      model: 'gpt-4o-mini',
      input: [
        { type: 'message', role: 'system', content: 'Be brief.' },
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Answer in French.' }] },
        { type: 'message', role: 'user', content: 'Hello' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Bonjour' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'And goodbye?' }] },
      ],
    });
  });

  it('turns image_url parts into input_image parts, with their detail', () => {
    const body = convert({
      model: 'm',
      messages: [
        user([
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ]),
      ],
    });
    assert.deepEqual((body.input as Body[])[0], {
      type: 'message',
      role: 'user',
      content: [
        { type: 'input_text', text: 'What is this?' },
        { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low' },
        { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=' },
      ],
    });
  });

  it('turns inline file parts into input_file parts and refuses file ids', () => {
    const body = convert({ model: 'm', messages: [user([{ type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }])] });
    assert.deepEqual((body.input as Body[])[0], { type: 'message', role: 'user', content: [{ type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' }] });
    assert.match(refusal({ model: 'm', messages: [user([{ type: 'file', file: { file_id: 'file-1' } }])] }), /message 1 has a file part without "file_data"/);
  });

  it('turns assistant tool calls and tool results into function_call and function_call_output items', () => {
    const body = convert({
      model: 'm',
      messages: [
        user('Weather in Paris?'),
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18 °C' },
      ],
    });
    assert.deepEqual((body.input as Body[]).slice(1), [
      { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '18 °C' },
    ]);
  });

  it('keeps an assistant refusal as a refusal part', () => {
    const body = convert({ model: 'm', messages: [user('x'), { role: 'assistant', content: null, refusal: 'No.' }, user('y')] });
    assert.deepEqual((body.input as Body[])[1], { type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] });
  });

  it('drops the message name (Responses messages have none)', () => {
    const body = convert({ model: 'm', messages: [{ role: 'user', name: 'alice', content: 'hi' }] });
    assert.deepEqual(body.input, [{ type: 'message', role: 'user', content: 'hi' }]);
  });

  it('refuses audio parts, unknown roles, non-text system parts and empty messages, naming the message', () => {
    assert.match(refusal({ model: 'm', messages: [user([{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }])] }), /message 1 has an audio part/);
    assert.match(refusal({ model: 'm', messages: [user('a'), { role: 'function', name: 'f', content: 'x' }] }), /message 2 has role "function"/);
    assert.match(refusal({ model: 'm', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }), /message 1 \(system\) may hold only text/);
    assert.match(refusal({ model: 'm', messages: [] }), /"messages" must be a non-empty array/);
    assert.match(refusal({ model: 'm' }), /"messages" must be a non-empty array/);
    assert.match(refusal({ model: 'm', messages: [user([])] }), /message 1 needs "content"/);
  });
});

describe('chat completions → responses: parameters', () => {
  it('copies the parameters both APIs share', () => {
    const body = convert({
      model: 'm',
      messages: [user('x')],
      temperature: 0.2,
      top_p: 0.9,
      presence_penalty: 0.5,
      frequency_penalty: 0.1,
      metadata: { batch: 'a' },
      store: false,
      service_tier: 'flex',
      prompt_cache_key: 'k',
      parallel_tool_calls: false,
    });
    assert.deepEqual(
      { ...body, input: undefined },
      { model: 'm', input: undefined, temperature: 0.2, top_p: 0.9, presence_penalty: 0.5, frequency_penalty: 0.1, metadata: { batch: 'a' }, store: false, service_tier: 'flex', prompt_cache_key: 'k', parallel_tool_calls: false },
    );
  });

  it('maps max_tokens and max_completion_tokens to max_output_tokens, raised to the spec minimum of 16', () => {
    assert.equal(convert({ model: 'm', messages: [user('x')], max_tokens: 500 }).max_output_tokens, 500);
    assert.equal(convert({ model: 'm', messages: [user('x')], max_completion_tokens: 300, max_tokens: 9 }).max_output_tokens, 300);
    assert.equal(convert({ model: 'm', messages: [user('x')], max_tokens: 1 }).max_output_tokens, MIN_OUTPUT_TOKENS);
    assert.match(refusal({ model: 'm', messages: [user('x')], max_tokens: 'ten' }), /max_tokens must be a positive whole number/);
  });

  it('turns a json_schema response_format into the flat text.format', () => {
    const schema = { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false };
    const body = convert({ model: 'm', messages: [user('x')], response_format: { type: 'json_schema', json_schema: { name: 'label', schema, strict: true, description: 'd' } } });
    assert.deepEqual(body.text, { format: { type: 'json_schema', name: 'label', schema, description: 'd', strict: true } });
    assert.match(refusal({ model: 'm', messages: [user('x')], response_format: { type: 'json_schema', json_schema: { schema } } }), /needs "json_schema": \{"name"/);
  });

  it('turns json_object (no such format in the spec) into a non-strict schema of any object, and text into text', () => {
    assert.deepEqual(convert({ model: 'm', messages: [user('x')], response_format: { type: 'json_object' } }).text, {
      format: { type: 'json_schema', name: 'json_object', schema: { type: 'object' }, strict: false },
    });
    assert.deepEqual(convert({ model: 'm', messages: [user('x')], response_format: { type: 'text' }, verbosity: 'low' }).text, { format: { type: 'text' }, verbosity: 'low' });
  });

  it('maps reasoning_effort, user, function tools and tool_choice', () => {
    const body = convert({
      model: 'm',
      messages: [user('x')],
      reasoning_effort: 'high',
      user: 'user-42',
      tools: [{ type: 'function', function: { name: 'weather', description: 'Weather now', parameters: { type: 'object', properties: {} }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    assert.deepEqual(body.reasoning, { effort: 'high' });
    assert.equal(body.safety_identifier, 'user-42');
    assert.deepEqual(body.tools, [{ type: 'function', name: 'weather', description: 'Weather now', parameters: { type: 'object', properties: {} }, strict: true }]);
    assert.deepEqual(body.tool_choice, { type: 'function', name: 'weather' });
    assert.equal(convert({ model: 'm', messages: [user('x')], tool_choice: 'required', tools: [] }).tool_choice, 'required');
  });

  it('drops stream, stream_options and seed, and accepts n: 1, logprobs: false and text modalities', () => {
    const body = convert({ model: 'm', messages: [user('x')], stream: true, stream_options: { include_usage: true }, seed: 7, n: 1, logprobs: false, modalities: ['text'] });
    assert.deepEqual(Object.keys(body).sort(), ['input', 'model']);
  });

  it('refuses what has no equivalent, saying what', () => {
    const base = { model: 'm', messages: [user('x')] };
    assert.match(refusal({ ...base, n: 3 }), /n must be 1 \(one answer per request\), got 3/);
    assert.match(refusal({ ...base, logprobs: true, top_logprobs: 2 }), /log probabilities are not supported/);
    assert.match(refusal({ ...base, stop: ['\n'] }), /stop sequences have no equivalent/);
    assert.match(refusal({ ...base, logit_bias: { 50256: -100 } }), /logit_bias has no equivalent/);
    assert.match(refusal({ ...base, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } }), /audio output is not supported|only text output/);
    assert.match(refusal({ ...base, tools: [{ type: 'custom', custom: { name: 'x' } }] }), /only function tools are supported, got "custom"/);
    assert.match(refusal({ ...base, functions: [{ name: 'f' }] }), /legacy "functions"/);
    assert.match(refusal({ ...base, reasoning_effort: 'minimal' }), /reasoning_effort "minimal" is not one of/);
    assert.match(refusal({ ...base, response_format: { type: 'xml' } }), /response_format of type "xml" is not supported/);
    assert.match(refusal({ ...base, made_up: 1 }), /"made_up" has no equivalent in OpenResponses/);
  });

  it('lets null mean "not set"', () => {
    assert.deepEqual(convert({ model: 'm', messages: [user('x')], stop: null, temperature: null, max_tokens: null, response_format: null }), { model: 'm', input: [{ type: 'message', role: 'user', content: 'x' }] });
  });
});

describe('batch line → responses body', () => {
  const chat = { model: 'm', messages: [user('x')] };

  it('takes /v1/responses bodies as they are', () => {
    const body = { model: 'm', input: 'x', anything: true };
    assert.deepEqual(batchLineToResponses({ method: 'POST', url: '/v1/responses', body }), { ok: true, body });
    assert.deepEqual(batchLineToResponses({ method: 'post', url: 'https://api.example.com/v1/responses/?x=1', body }), { ok: true, body });
  });

  it('converts /v1/chat/completions bodies', () => {
    const result = batchLineToResponses({ method: 'POST', url: '/v1/chat/completions', body: chat });
    assert.deepEqual(result, { ok: true, body: { model: 'm', input: [{ type: 'message', role: 'user', content: 'x' }] } });
  });

  it('says why a chat/completions body cannot be converted', () => {
    const result = batchLineToResponses({ method: 'POST', url: '/v1/chat/completions', body: { ...chat, n: 2 } });
    assert.deepEqual(result, { ok: false, reason: 'cannot convert this /v1/chat/completions request: n must be 1 (one answer per request), got 2' });
  });

  it('refuses embeddings and other endpoints with a clear message', () => {
    const embeddings = batchLineToResponses({ method: 'POST', url: '/v1/embeddings', body: { model: 'e', input: 'x' } });
    assert.equal(embeddings.ok, false);
    assert.match((embeddings as { reason: string }).reason, /embeddings are not supported/);
    const completions = batchLineToResponses({ method: 'POST', url: '/v1/completions', body: { model: 'm', prompt: 'x' } });
    assert.match((completions as { reason: string }).reason, /url "\/v1\/completions" is not supported; use "\/v1\/responses" or "\/v1\/chat\/completions"/);
  });

  it('lists every problem of a malformed line', () => {
    const result = batchLineToResponses({ method: 'GET', url: 7, body: [] });
    assert.deepEqual(result, { ok: false, reason: 'method must be "POST", got "GET"; body must be a JSON object, got an array; url must be a string such as "/v1/responses", got 7' });
  });
});
