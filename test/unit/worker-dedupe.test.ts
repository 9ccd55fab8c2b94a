import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { flagLayer, resolveConfig } from '../../src/config/load.js';
import type { JobData } from '../../src/core/item.js';
import type { OutputLine } from '../../src/core/output-line.js';
import { settingsFromConfig } from '../../src/queue/run-meta.js';
import { buildRequestBody } from '../../src/worker/build-request.js';
import { duplicateLine, isShareable, waitDelayMs } from '../../src/worker/dedupe.js';
import { imageDataUri } from '../../src/worker/images/prepare.js';
import { canonicalJson, requestKey } from '../../src/worker/request-key.js';
import type { RequestSettings } from '../../src/worker/request-settings.js';

const settings: RequestSettings = { model: 'm', detail: 'low', instructions: 'Be brief.', temperature: 0 };
const prompt = (text: string) => buildRequestBody(settings, { kind: 'prompt', text, images: [] }, []);

describe('requestKey', () => {
  it('is a SHA-256 hex digest that holds none of the request', () => {
    const key = requestKey({ body: prompt('A secret prompt') });
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(requestKey({ body: prompt('A secret prompt') }), key, 'the same request, the same key');
  });

  it('does not depend on the order of keys, at any depth', () => {
    const a = { model: 'm', input: [{ type: 'message', role: 'user', content: 'hi' }], text: { format: { type: 'text' }, verbosity: 'low' } };
    const b = { text: { verbosity: 'low', format: { type: 'text' } }, input: [{ content: 'hi', role: 'user', type: 'message' }], model: 'm' };
    assert.equal(requestKey({ body: a }), requestKey({ body: b }));
    assert.equal(canonicalJson(b), canonicalJson(a));
    assert.equal(canonicalJson({ b: 1, a: [2, { d: null, c: 'x' }] }), '{"a":[2,{"c":"x","d":null}],"b":1}');
  });

  it('keeps the order of arrays: two images swapped are another request', () => {
    assert.notEqual(requestKey({ body: { input: ['x', 'y'] } }), requestKey({ body: { input: ['y', 'x'] } }));
  });

  it('changes with the prompt, the model, the instructions, any setting', () => {
    const keys = [
      prompt('Hello'),
      prompt('Hello!'),
      buildRequestBody({ ...settings, model: 'm2' }, { kind: 'prompt', text: 'Hello', images: [] }, []),
      buildRequestBody({ ...settings, instructions: 'Be long.' }, { kind: 'prompt', text: 'Hello', images: [] }, []),
      buildRequestBody({ ...settings, temperature: 1 }, { kind: 'prompt', text: 'Hello', images: [] }, []),
    ].map((body) => requestKey({ body }));
    assert.equal(new Set(keys).size, keys.length);
  });

  it('changes with what shapes the line besides the body: samples, re-asks, the output format', () => {
    const body = prompt('Label this.');
    const plan = { schema: { type: 'object' }, samples: 1, invalidRetries: 2 };
    const keys = [
      requestKey({ body }),
      requestKey({ body, plan }),
      requestKey({ body, plan: { ...plan, samples: 3 } }),
      requestKey({ body, plan: { ...plan, invalidRetries: 0 } }),
      requestKey({ body, outputFormat: 'openai-batch' }),
    ];
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(requestKey({ body, outputFormat: 'respool' }), requestKey({ body }), 'the default format is the default');
  });

  it('image bytes matter, their path does not', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-unit-'));
    const original = path.join(dir, 'a.png');
    const copy = path.join(dir, 'copy of a.png');
    const changed = path.join(dir, 'b.png');
    await copyFile('test/fixtures/images/ok.png', original);
    await copyFile(original, copy);
    const bytes = await readFile(original);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff; // one byte of the last chunk's CRC
    await writeFile(changed, bytes);
    const keyOf = async (file: string) => {
      const uri = await imageDataUri({ kind: 'file', path: file }, { detail: 'low', resize: 'off', maxBytes: 1 << 20 });
      return requestKey({ body: buildRequestBody(settings, { kind: 'prompt', text: 'Describe this image.', images: [{ kind: 'file', path: file }] }, [uri]) });
    };
    assert.equal(await keyOf(copy), await keyOf(original));
    assert.notEqual(await keyOf(changed), await keyOf(original));
  });
});

const answer: OutputLine = {
  custom_id: 'first',
  status: 'completed',
  model: 'm',
  output_text: 'Echo: hi',
  usage: { input_tokens: 3, output_tokens: 12, total_tokens: 15 },
  response_id: 'resp_1',
  attempts: 2,
  rate_limited: 4,
  latency_ms: 57,
  source: { file: 'in.csv', line: 2 },
  run: 'r',
  finished_at: '2026-01-01T00:00:00.000Z',
  calls: 3,
  samples: { n: 3, valid: 3, answers: ['a', 'a', 'b'], majority: 'a', agreement: 0.667 },
};
const twin: Extract<JobData, { type: 'item' }> = { type: 'item', run: 'r', customId: 'second', source: { file: 'in.csv', line: 9 }, request: { kind: 'prompt', text: 'hi', images: [] } };

describe('duplicateLine', () => {
  it('copies the outcome under the item\'s own identity, with no call of its own', () => {
    const now = new Date('2026-02-02T00:00:00.000Z');
    assert.deepEqual(duplicateLine(answer, twin, now), {
      custom_id: 'second',
      status: 'completed',
      model: 'm',
      output_text: 'Echo: hi',
      usage: { input_tokens: 3, output_tokens: 12, total_tokens: 15 },
      response_id: 'resp_1',
      attempts: 0,
      latency_ms: null,
      source: { file: 'in.csv', line: 9 },
      run: 'r',
      finished_at: now.toISOString(),
      calls: 3,
      samples: answer.samples,
      duplicate_of: 'first',
    });
  });

  it('gives the item that called its own line back unchanged (its job ran again after sharing it)', () => {
    assert.equal(duplicateLine(answer, { ...twin, customId: 'first' }), answer);
  });
});

describe('isShareable', () => {
  const failed = (type: string): OutputLine => ({ ...answer, status: 'failed', error: { type: type as never, message: '', status: null } });
  it('shares answers and refusals of the request; releases the key on failures that say nothing about it', () => {
    assert.ok(isShareable(answer));
    assert.ok(isShareable({ ...answer, status: 'incomplete' }));
    assert.ok(isShareable({ ...answer, status: 'invalid_output' }));
    assert.ok(isShareable(failed('invalid_request')));
    for (const type of ['server_error', 'timeout', 'network', 'rate_limited', 'response_failed', 'internal', 'cancelled']) assert.ok(!isShareable(failed(type)), type);
    assert.ok(!isShareable({ ...answer, status: 'skipped' }));
  });
});

describe('waitDelayMs', () => {
  it('starts at 250 ms, doubles, and stays at 5 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map(waitDelayMs), [250, 500, 1000, 2000, 4000, 5000, 5000]);
  });
});

describe('the dedupe setting', () => {
  const job = { origin: 'job.yaml', values: { inputs: ['in.csv'], model: 'm', name: 'r' } };
  it('is on by default; the job file turns it off; --no-dedupe turns it off; no flag leaves the job file alone', () => {
    assert.equal(resolveConfig([job]).dedupe, true);
    assert.equal(resolveConfig([{ ...job, values: { ...job.values, dedupe: false } }]).dedupe, false);
    assert.equal(resolveConfig([job, flagLayer({ dedupe: false })]).dedupe, false);
    // Commander gives `dedupe: true` for a `--no-dedupe` option that was not used.
    assert.equal(resolveConfig([{ ...job, values: { ...job.values, dedupe: false } }, flagLayer({ dedupe: true })]).dedupe, false);
    assert.equal(settingsFromConfig(resolveConfig([job, flagLayer({ dedupe: false })])).dedupe, false);
  });
});
