import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, flagLayer, resolveConfig, type ConfigLayer } from '../../src/config/load.js';
import { settingsFromConfig } from '../../src/queue/run-meta.js';
import { labelSchema } from '../../src/config/label-schema.js';

const base = { name: 'lab', inputs: ['data.csv'], model: 'm', out: 'out.jsonl' };
const layer = (values: Record<string, unknown>): ConfigLayer => ({ origin: 'job.yaml', values: { ...base, ...values } });

function errorOf(values: Record<string, unknown>): string {
  try {
    resolveConfig([layer(values)]);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('labels: the answer schema', () => {
  it('single label: one required enum field, no other properties', () => {
    assert.deepEqual(labelSchema({ values: ['a', 'b'], multi: false }), {
      type: 'object',
      properties: { label: { type: 'string', enum: ['a', 'b'] } },
      required: ['label'],
      additionalProperties: false,
    });
  });

  it('multi-label: a list of enum values under `labels`, or the field given; the description is kept', () => {
    assert.deepEqual(labelSchema({ values: ['x', 'y', 'z'], multi: true, field: 'topics', description: 'every topic that applies' }), {
      type: 'object',
      properties: { topics: { type: 'array', items: { type: 'string', enum: ['x', 'y', 'z'] }, description: 'every topic that applies' } },
      required: ['topics'],
      additionalProperties: false,
    });
    assert.deepEqual(Object.keys((labelSchema({ values: ['x', 'y'], multi: true }).properties as object)), ['labels']);
  });
});

describe('labels, schema, samples: job settings', () => {
  it('a plain list is short for {values}; the request gets a strict json_schema format and the run a plan', () => {
    const config = resolveConfig([layer({ labels: ['pos', 'neg'], request: { temperature: 1 } })]);
    const s = settingsFromConfig(config);
    assert.deepEqual(s.request.text?.format, { type: 'json_schema', name: 'labels', schema: labelSchema({ values: ['pos', 'neg'], multi: false }), strict: true });
    assert.equal(s.request.temperature, 1, 'other request fields stay');
    assert.deepEqual(s.structured, {
      schema: labelSchema({ values: ['pos', 'neg'], multi: false }),
      labels: { values: ['pos', 'neg'], multi: false, field: 'label' },
      samples: 1,
      invalidRetries: 2,
    });
    assert.equal(s.outputFormat, 'respool');
  });

  it('a full schema is sent as format "answer" (or schema_name), strict, and validated against', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const s = settingsFromConfig(resolveConfig([layer({ schema, schema_name: 'address', samples: 5, invalid_output_retries: 0 })]));
    assert.deepEqual(s.request.text?.format, { type: 'json_schema', name: 'address', schema, strict: true });
    assert.deepEqual(s.structured, { schema, samples: 5, invalidRetries: 0 });
  });

  it('a json_schema request.text.format is validated too, and sent as written', () => {
    const format = { type: 'json_schema', name: 'own', schema: { type: 'object' } };
    const s = settingsFromConfig(resolveConfig([layer({ request: { text: { format } } })]));
    assert.deepEqual(s.request.text?.format, format);
    assert.deepEqual(s.structured?.schema, { type: 'object' });
  });

  it('no JSON asked for: no plan', () => {
    assert.equal(settingsFromConfig(resolveConfig([layer({})])).structured, undefined);
  });

  it('flags set samples, invalid_output_retries and output_format', () => {
    const config = resolveConfig([layer({ labels: ['a', 'b'] }), flagLayer({ samples: '3', invalidOutputRetries: '1', outputFormat: 'openai-batch' })]);
    assert.equal(config.samples, 3);
    assert.equal(config.invalid_output_retries, 1);
    assert.equal(config.output_format, 'openai-batch');
  });

  it('bad settings name their field', () => {
    assert.match(errorOf({ labels: ['only'] }), /labels\.values: give at least two labels/);
    assert.match(errorOf({ labels: ['a', 'a'] }), /labels\.values: a label is listed twice/);
    assert.match(errorOf({ labels: { values: ['a', 'b'], field: 'has space' } }), /labels\.field: must be a letter/);
    assert.match(errorOf({ labels: ['a', 'b'], schema: { type: 'object' } }), /schema: set either labels or schema/);
    assert.match(errorOf({ labels: ['a', 'b'], request: { text: { format: { type: 'text' } } } }), /request\.text\.format: labels and schema set the text format/);
    assert.match(errorOf({ schema: { type: 'string' } }), /schema: must be an object schema/);
    assert.match(errorOf({ schema: { type: 'object', properties: { a: { type: 'nope' } } } }), /schema: not a usable JSON schema/);
    assert.match(errorOf({ schema_name: 'x' }), /schema_name: only used with labels or schema/);
    assert.match(errorOf({ samples: 0 }), /samples: Too small/);
    assert.match(errorOf({ samples: 3 }), /samples: samples are voted on by label or answer/);
    assert.match(errorOf({ output_format: 'csv' }), /output_format: Invalid option/);
  });
});
