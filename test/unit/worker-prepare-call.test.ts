import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { settingsFromConfig } from '../../src/queue/run-meta.js';
import { estimateRequestTokens } from '../../src/cost/token-estimate.js';
import { ImageUnreadableError, prepareCall } from '../../src/worker/prepare-call.js';

function settings(values: Record<string, unknown> = {}) {
  return settingsFromConfig(resolveConfig([{ origin: 'job.yaml', values: { inputs: ['in.csv'], model: 'm', name: 'r', ...values } }]));
}

const okPng = path.resolve('test/fixtures/images/ok.png');

describe('prepareCall', () => {
  it('builds the body from the run settings and the item, with the run model and the limiter estimate', async () => {
    const s = settings({ instructions: 'Be brief.', expected_output_tokens: 50 });
    const call = await prepareCall({ kind: 'prompt', text: 'Hello', images: [] }, s);
    assert.equal(call.model, 'm');
    assert.equal(call.body.model, 'm');
    assert.equal(call.body.instructions, 'Be brief.');
    assert.deepEqual(call.tokens, estimateRequestTokens(call.body, { expectedOutputTokens: 50 }));
    assert.equal(call.tokens.output, 50);
    assert.equal(call.wantsJson, false);
  });

  it('a batch request line keeps its own model; a json_schema format asks for JSON', async () => {
    const body = { model: 'other', input: 'x', text: { format: { type: 'json_schema', name: 'a', schema: { type: 'object' } } } };
    const call = await prepareCall({ kind: 'body', body }, settings());
    assert.equal(call.model, 'other');
    assert.equal(call.wantsJson, true);
  });

  it('reads an image file into a data URL', async () => {
    const call = await prepareCall({ kind: 'prompt', text: 'Describe', images: [{ kind: 'file', path: okPng }] }, settings());
    const content = (call.body.input as Array<{ content: Array<Record<string, unknown>> }>)[0]!.content;
    assert.equal(content[1]!.type, 'input_image');
    assert.match(String(content[1]!.image_url), /^data:image\/png;base64,/);
  });

  it('an image that is gone is ImageUnreadableError (the item is rejected)', async () => {
    await assert.rejects(prepareCall({ kind: 'prompt', text: 'x', images: [{ kind: 'file', path: path.resolve('test/fixtures/images/none.png') }] }, settings()), ImageUnreadableError);
  });
});
