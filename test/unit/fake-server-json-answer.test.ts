import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleFromSchema } from '../../src/fake-server/json-answer.js';
import { answerText } from '../../src/fake-server/respond.js';

test('objects get every property, required ones included even when undeclared', () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer' }, score: { type: 'number' }, ok: { type: 'boolean' } },
    required: ['name', 'id'],
  };
  assert.deepEqual(sampleFromSchema(schema), { name: 'sample', age: 1, score: 1, ok: true, id: 'sample' });
});

test('enums take their first value, arrays one item, nested objects recurse', () => {
  const schema = {
    type: 'object',
    properties: {
      label: { type: 'string', enum: ['positive', 'negative'] },
      tags: { type: 'array', items: { type: 'object', properties: { t: { type: 'string' } }, required: ['t'] } },
      c: { const: 42 },
    },
  };
  assert.deepEqual(sampleFromSchema(schema), { label: 'positive', tags: [{ t: 'sample' }], c: 42 });
});

test('numeric bounds, string lengths and minItems are respected', () => {
  assert.equal(sampleFromSchema({ type: 'integer', minimum: 5 }), 5);
  assert.equal(sampleFromSchema({ type: 'number', maximum: 0 }), 0);
  assert.equal(sampleFromSchema({ type: 'integer', exclusiveMinimum: 3 }), 4);
  assert.equal(sampleFromSchema({ type: 'string', minLength: 10 }), 'samplexxxx');
  assert.equal(sampleFromSchema({ type: 'string', maxLength: 3 }), 'sam');
  assert.deepEqual(sampleFromSchema({ type: 'array', items: { type: 'boolean' }, minItems: 2 }), [true, true]);
});

test('nullable types, anyOf and local $refs resolve to a non-null sample', () => {
  const schema = {
    type: 'object',
    properties: {
      maybe: { type: ['string', 'null'] },
      either: { anyOf: [{ type: 'null' }, { type: 'integer' }] },
      item: { $ref: '#/$defs/Item' },
    },
    $defs: { Item: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } },
  };
  assert.deepEqual(sampleFromSchema(schema), { maybe: 'sample', either: 1, item: { sku: 'sample' } });
});

test('recursive schemas stop instead of looping', () => {
  const schema = { $defs: { Node: { type: 'object', properties: { next: { $ref: '#/$defs/Node' } } } }, $ref: '#/$defs/Node' };
  assert.doesNotThrow(() => JSON.stringify(sampleFromSchema(schema)));
});

test('json_schema answers are JSON; [[invalid_json]] answers are not', () => {
  const body = { text: { format: { type: 'json_schema', name: 'r', schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } } } };
  assert.deepEqual(JSON.parse(answerText(body, 'hi', { invalidJson: false })), { a: 'sample' });
  assert.throws(() => JSON.parse(answerText(body, 'hi', { invalidJson: true })), SyntaxError);
});

test('plain answers echo the first 60 characters of the last user text', () => {
  const long = 'x'.repeat(100);
  assert.equal(answerText({}, long, { invalidJson: false }), `Echo: ${'x'.repeat(60)}`);
  assert.equal(answerText({ text: { format: { type: 'text' } } }, 'hi', { invalidJson: true }), 'Echo: hi');
});
