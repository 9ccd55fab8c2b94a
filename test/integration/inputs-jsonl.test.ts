import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReadOutcome } from '../../src/core/item.js';
import { seenNow } from '../helpers/seen.js';
import { ROOT } from '../helpers/cli.js';
import { item, readAll, rejection } from '../helpers/read-outcomes.js';

describe('JSONL reader: the demo file', () => {
  it('reads batch-style, input and prompt lines', async () => {
    const outcomes = await readAll(['fixtures/prompts.jsonl'], { cwd: ROOT });
    assert.deepEqual(
      outcomes.map((o) => item(o)),
      [
        {
          customId: 'batch-1',
          source: { file: 'fixtures/prompts.jsonl', line: 1 },
          request: { kind: 'body', body: { model: 'demo-model', input: 'Say hello in French.' } },
        },
        {
          customId: 'input-1',
          source: { file: 'fixtures/prompts.jsonl', line: 2 },
          request: {
            kind: 'input',
            input: [{ role: 'user', content: [{ type: 'input_text', text: 'Name three primary colours.' }] }],
            images: [],
          },
        },
        {
          customId: 'input-2',
          source: { file: 'fixtures/prompts.jsonl', line: 3 },
          request: { kind: 'input', input: 'What is the capital of Japan?', images: [] },
        },
        {
          customId: 'prompt-1',
          source: { file: 'fixtures/prompts.jsonl', line: 4 },
          request: { kind: 'prompt', text: 'Write a haiku about autumn.', images: [] },
        },
        {
          customId: 'prompts.jsonl:5',
          source: { file: 'fixtures/prompts.jsonl', line: 5 },
          request: { kind: 'prompt', text: "Translate 'good morning' into Spanish.", images: [] },
        },
      ],
    );
  });
});

describe('JSONL reader: bad and unusual lines (CRLF file)', () => {
  let outcomes: ReadOutcome[];
  const lineOf = (o: ReadOutcome) => {
    const source = o.type === 'item' ? o.item.source : o.rejection.source;
    return 'line' in source ? source.line : -1;
  };
  const byLine = (line: number) => outcomes.find((o) => lineOf(o) === line);

  before(async () => {
    outcomes = await readAll(['test/fixtures/mixed.jsonl'], { cwd: ROOT });
  });

  it('skips blank and whitespace-only lines but keeps physical line numbers', () => {
    assert.deepEqual(outcomes.map(lineOf), [1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert.deepEqual(item(byLine(1)).request, { kind: 'prompt', text: 'Hello', images: [] });
  });

  it('rejects malformed JSON naming file:line, and keeps reading', () => {
    const bad = rejection(byLine(4));
    assert.equal(bad.customId, 'mixed.jsonl:4');
    assert.deepEqual(bad.source, { file: 'test/fixtures/mixed.jsonl', line: 4 });
    assert.match(bad.reason, /^test\/fixtures\/mixed\.jsonl:4: malformed JSON \(.+\)$/);
  });

  it('rejects JSON that is not an object', () => {
    assert.equal(rejection(byLine(5)).reason, 'test/fixtures/mixed.jsonl:5: expected a JSON object, got an array');
    assert.equal(rejection(byLine(6)).reason, 'test/fixtures/mixed.jsonl:6: expected a JSON object, got a string');
  });

  it('validates batch-style lines: POST only, a /responses or /chat/completions url', () => {
    assert.deepEqual(item(byLine(8)).request, { kind: 'body', body: { model: 'm', input: 'x' } });
    const get = rejection(byLine(9));
    assert.equal(get.customId, 'b2');
    assert.match(get.reason, /:9: batch-style request line: method must be "POST", got "GET"/);
    // A chat/completions line is converted; this one has no messages, so there is nothing to convert.
    assert.match(rejection(byLine(10)).reason, /:10: batch-style request line: cannot convert this \/v1\/chat\/completions request: "messages" must be a non-empty array/);
  });

  it('renders prompt lines with JSON-stringified values and file:line ids when custom_id is absent', async () => {
    const withTopic = await readAll(['test/fixtures/mixed.jsonl'], { cwd: ROOT, template: '{{prompt}} / {{topic}}' });
    const line11 = withTopic.find((o) => lineOf(o) === 11);
    assert.deepEqual(item(line11), {
      customId: 'mixed.jsonl:11',
      source: { file: 'test/fixtures/mixed.jsonl', line: 11 },
      request: { kind: 'prompt', text: 'no id / {"a":1}', images: [] },
    });
  });

  it('rejects a prompt line without the template field, naming it', () => {
    const missing = rejection(byLine(12));
    assert.equal(missing.customId, 'p2');
    assert.equal(missing.reason, 'test/fixtures/mixed.jsonl:12: the template uses field(s) missing from this line: prompt');
  });

  it('rejects an empty custom_id and accepts a numeric one', () => {
    assert.match(rejection(byLine(13)).reason, /:13: "custom_id" must be a non-empty string or a number/);
    assert.equal(item(byLine(14)).customId, '42');
  });

  it('appends `image` refs to input lines: files relative to the JSONL file, URLs as they are', () => {
    assert.deepEqual(item(byLine(15)).request, {
      kind: 'input',
      input: 'Describe',
      images: [
        { kind: 'file', path: path.join(ROOT, 'test/fixtures/images/ok.png'), seen: seenNow(path.join(ROOT, 'test/fixtures/images/ok.png')) },
        { kind: 'url', url: 'https://example.com/a.jpg' },
      ],
    });
  });
});

describe('JSONL reader: options and edge cases', () => {
  let dir: string;
  const write = (name: string, content: string) => writeFile(path.join(dir, name), content);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-jsonl-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses idColumn instead of custom_id, falling back to file:line when the field is absent', async () => {
    await write('ids.ndjson', '{"key":"k1","custom_id":"c1","prompt":"a"}\n{"prompt":"b"}\n');
    const outcomes = await readAll(['ids.ndjson'], { cwd: dir, idColumn: 'key' });
    assert.deepEqual(outcomes.map((o) => item(o).customId), ['k1', 'ids.ndjson:2']);
  });

  it('strips a BOM on the first line and accepts a trailing line without newline', async () => {
    await write('bom.jsonl', '\uFEFF{"prompt":"first"}\n{"prompt":"last"}');
    const outcomes = await readAll(['bom.jsonl'], { cwd: dir });
    assert.deepEqual(outcomes.map((o) => (item(o).request as { text: string }).text), ['first', 'last']);
  });

  it('rejects an input that is neither a string nor an array, and a bad image', async () => {
    await write('bad.jsonl', '{"input":{"role":"user"}}\n{"input":"x","image":"nope.png"}\n{"prompt":"x","image":[1]}\n');
    const outcomes = await readAll(['bad.jsonl'], { cwd: dir });
    assert.match(rejection(outcomes[0]).reason, /bad\.jsonl:1: "input" must be a string or an array, got an object$/);
    assert.match(rejection(outcomes[1]).reason, /bad\.jsonl:2: image "nope\.png": cannot read the file/);
    assert.match(rejection(outcomes[2]).reason, /bad\.jsonl:3: "image" must be a path or URL string/);
  });

  it('rejects a batch-style line whose body is not an object', async () => {
    await write('body.jsonl', '{"custom_id":"x","method":"POST","url":"/v1/responses","body":[1]}\n');
    const outcomes = await readAll(['body.jsonl'], { cwd: dir });
    assert.match(rejection(outcomes[0]).reason, /body must be a JSON object, got an array/);
  });
});
