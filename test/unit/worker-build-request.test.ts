import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ItemRequest } from '../../src/core/item.js';
import { buildRequestBody, wantsJsonOutput } from '../../src/worker/build-request.js';
import type { RequestSettings } from '../../src/worker/request-settings.js';

const base: RequestSettings = { model: 'm-1', detail: 'auto' };
const DATA = 'data:image/png;base64,iVBORw0KGgo=';
const URL_IMG = 'https://example.com/cat.jpg';

describe('buildRequestBody', () => {
  it('prompt: one user message, text first, store false, nothing unset', () => {
    const body = buildRequestBody(base, { kind: 'prompt', text: 'Hello', images: [] }, []);
    assert.deepEqual(body, {
      model: 'm-1',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello' }] }],
      store: false,
    });
  });

  it('prompt with images: images after the text, in order, with the detail setting', () => {
    const request: ItemRequest = { kind: 'prompt', text: 'Describe.', images: [{ kind: 'file', path: '/a.png' }, { kind: 'url', url: URL_IMG }] };
    const body = buildRequestBody({ ...base, detail: 'low' }, request, [DATA, URL_IMG]);
    assert.deepEqual(body['input'], [
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_text', text: 'Describe.' },
          { type: 'input_image', image_url: DATA, detail: 'low' },
          { type: 'input_image', image_url: URL_IMG, detail: 'low' },
        ],
      },
    ]);
  });

  it('copies the run settings that are set, and store when set', () => {
    const settings: RequestSettings = {
      model: 'm-2',
      instructions: 'Be brief.',
      temperature: 0,
      top_p: 0.5,
      max_output_tokens: 64,
      reasoning: { effort: 'low' },
      text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } }, verbosity: 'low' },
      metadata: { batch: 'b1' },
      store: true,
      service_tier: 'flex',
      detail: 'high',
    };
    const body = buildRequestBody(settings, { kind: 'prompt', text: 'q', images: [] }, []);
    assert.deepEqual(Object.keys(body).sort(), [
      'input', 'instructions', 'max_output_tokens', 'metadata', 'model', 'reasoning', 'service_tier', 'store', 'temperature', 'text', 'top_p',
    ]);
    assert.equal(body['temperature'], 0, 'a zero is set, not missing');
    assert.equal(body['store'], true);
    assert.deepEqual(body['text'], settings.text);
  });

  it('input: a string or item list is sent as given', () => {
    assert.equal(buildRequestBody(base, { kind: 'input', input: 'Hi', images: [] }, [])['input'], 'Hi');
    const items = [{ type: 'message', role: 'system', content: 'sys' }, { type: 'message', role: 'user', content: 'u' }];
    const body = buildRequestBody(base, { kind: 'input', input: items, images: [] }, []);
    assert.deepEqual(body['input'], items);
    assert.equal(body['store'], false);
  });

  it('input string with images: wrapped into one user message with the images', () => {
    const body = buildRequestBody(base, { kind: 'input', input: 'What is this?', images: [{ kind: 'url', url: URL_IMG }] }, [URL_IMG]);
    assert.deepEqual(body['input'], [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is this?' }, { type: 'input_image', image_url: URL_IMG, detail: 'auto' }] },
    ]);
  });

  it('input list with images: one user message with the images appended, the list left intact', () => {
    const items = [{ type: 'message', role: 'user', content: 'Compare these.' }];
    const request: ItemRequest = { kind: 'input', input: items, images: [{ kind: 'file', path: '/a.png' }] };
    const body = buildRequestBody(base, request, [DATA]);
    assert.deepEqual(body['input'], [...items, { type: 'message', role: 'user', content: [{ type: 'input_image', image_url: DATA, detail: 'auto' }] }]);
    assert.equal(items.length, 1);
  });

  it('body: sent as is, settings not merged, model filled only when missing', () => {
    const settings: RequestSettings = { ...base, temperature: 1, instructions: 'ignored' };
    const own = { model: 'their-model', input: 'x', temperature: 0.2 };
    assert.deepEqual(buildRequestBody(settings, { kind: 'body', body: own }, []), own);
    assert.deepEqual(buildRequestBody(settings, { kind: 'body', body: { input: 'x' } }, []), { input: 'x', model: 'm-1' });
    assert.deepEqual(buildRequestBody(settings, { kind: 'body', body: { input: 'x', model: null } }, []), { input: 'x', model: 'm-1' });
  });

  it('body: does not mutate the item, and turns streaming off', () => {
    const own = { input: 'x', stream: true };
    const body = buildRequestBody(base, { kind: 'body', body: own }, []);
    assert.equal(body['stream'], false);
    assert.deepEqual(own, { input: 'x', stream: true });
  });
});

describe('wantsJsonOutput', () => {
  const schema = { format: { type: 'json_schema', name: 'x', schema: {} } };
  it('follows the settings for prompt and input items', () => {
    assert.equal(wantsJsonOutput({ ...base, text: schema }, { kind: 'prompt', text: 'q', images: [] }), true);
    assert.equal(wantsJsonOutput({ ...base, text: { format: { type: 'text' } } }, { kind: 'input', input: 'q', images: [] }), false);
    assert.equal(wantsJsonOutput(base, { kind: 'prompt', text: 'q', images: [] }), false);
  });

  it("follows the body's own text.format for body items, ignoring the settings", () => {
    assert.equal(wantsJsonOutput(base, { kind: 'body', body: { text: schema } }), true);
    assert.equal(wantsJsonOutput({ ...base, text: schema }, { kind: 'body', body: { input: 'q' } }), false);
    assert.equal(wantsJsonOutput(base, { kind: 'body', body: { text: { format: { type: 'json_object' } } } }), true);
    assert.equal(wantsJsonOutput(base, { kind: 'body', body: { text: 'weird' } }), false);
  });
});

describe('buildRequestBody: short-form input items', () => {
  it('adds type "message" to {role, content} items, leaves typed items alone', () => {
    const body = buildRequestBody({ model: 'm', detail: 'auto' }, { kind: 'input', images: [], input: [{ role: 'user', content: 'Hi' }, { type: 'item_reference', id: 'x' }] }, []);
    assert.deepEqual(body.input, [{ type: 'message', role: 'user', content: 'Hi' }, { type: 'item_reference', id: 'x' }]);
  });
});
