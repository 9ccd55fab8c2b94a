import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { missingModelIssues } from '../../src/config/schema.js';
import { decodeLines, type DecodedLine, type InputEncoding } from '../../src/inputs/encoding.js';
import { describeRunModel, modelOf, modelProblem, requestTextBytes, sizeProblem } from '../../src/inputs/item-checks.js';
import { InputTally } from '../../src/inputs/tally.js';

async function lines(chunks: Array<Buffer | string>, encoding?: InputEncoding): Promise<DecodedLine[]> {
  async function* source() {
    for (const c of chunks) yield c;
  }
  const out: DecodedLine[] = [];
  for await (const l of decodeLines(source(), encoding)) out.push(l);
  return out;
}

const latin1 = (text: string) => Buffer.from(text, 'latin1');

describe('decodeLines', () => {
  it('numbers LF, CRLF and CR lines, keeps each break, and removes a UTF-8 BOM', async () => {
    const got = await lines([Buffer.from('\uFEFFa\r\nb\nc\rd', 'utf8')]);
    assert.deepEqual(got, [
      { text: 'a', line: 1, eol: '\r\n', valid: true },
      { text: 'b', line: 2, eol: '\n', valid: true },
      { text: 'c', line: 3, eol: '\r', valid: true },
      { text: 'd', line: 4, eol: '', valid: true },
    ]);
  });

  it('joins a CRLF split across chunks, and a UTF-8 character split across chunks', async () => {
    const bytes = Buffer.from('café\r\nnaïve\n', 'utf8');
    const cut = bytes.indexOf(0xa9); // inside the é
    const got = await lines([bytes.subarray(0, cut), bytes.subarray(cut, 6), bytes.subarray(6)]);
    assert.deepEqual(
      got.map((l) => [l.text, l.eol, l.valid]),
      [
        ['café', '\r\n', true],
        ['naïve', '\n', true],
      ],
    );
    const crlf = await lines(['a\r', '\nb']);
    assert.deepEqual(crlf.map((l) => [l.text, l.eol]), [['a', '\r\n'], ['b', '']]);
  });

  it('marks a line that is not valid UTF-8, and only that line', async () => {
    const got = await lines([Buffer.concat([Buffer.from('ok\n'), latin1('caf\xe9\n'), Buffer.from('fine ✓\n')])]);
    assert.deepEqual(
      got.map((l) => [l.line, l.valid]),
      [
        [1, true],
        [2, false],
        [3, true],
      ],
    );
    assert.equal(got[1]?.text, 'caf\uFFFD');
  });

  it('decodes latin1 as windows-1252 on purpose', async () => {
    const got = await lines([latin1('caf\xe9 \x80 \xfc\n')], 'latin1');
    assert.deepEqual(got, [{ text: 'café € ü', line: 1, eol: '\n', valid: true }]);
  });

  it('keeps a BOM-like sequence that is not at the start of the file', async () => {
    const got = await lines([Buffer.from('a\n\uFEFFb', 'utf8')]);
    assert.equal(got[1]?.text, '\uFEFFb');
  });
});

describe('item checks', () => {
  it('counts request text in UTF-8 bytes, not inline image or file data', () => {
    assert.equal(requestTextBytes({ kind: 'prompt', text: 'héllo', images: [{ kind: 'file', path: '/x.png' }] }), 6);
    const big = `data:image/png;base64,${'A'.repeat(10_000)}`;
    const body = { model: 'm', input: [{ type: 'message', role: 'user', content: [{ type: 'input_image', image_url: big }, { type: 'input_file', file_data: big }] }] };
    assert.ok(requestTextBytes({ kind: 'body', body }) < 200);
    assert.equal(requestTextBytes({ kind: 'input', input: 'abc', images: [] }), 5); // "abc" as JSON
  });

  it('names the size and the limit of an item over it', () => {
    const request = { kind: 'prompt' as const, text: 'x'.repeat(101), images: [] };
    assert.equal(sizeProblem(request, 101), null);
    assert.equal(sizeProblem(request, 100), 'the item is 101 bytes of text, over the limit of 100 bytes (max_item_bytes)');
  });

  it('takes the model from the body, else from the run', () => {
    const body = { kind: 'body' as const, body: { model: 'from-body', input: 'x' } };
    const noModel = { kind: 'body' as const, body: { input: 'x' } };
    const prompt = { kind: 'prompt' as const, text: 'x', images: [] };
    assert.equal(modelOf(body, 'run'), 'from-body');
    assert.equal(modelOf(noModel, 'run'), 'run');
    assert.equal(modelOf(prompt, null), null);
    assert.equal(modelProblem(body, null), null);
    assert.match(modelProblem(noModel, null) ?? '', /the request body names no model and the run has none/);
    assert.match(modelProblem(prompt, null) ?? '', /the run has no model/);
  });

  it('describes where the models of a run come from', () => {
    assert.equal(describeRunModel(undefined, ['a.jsonl']), 'models named by the input lines');
    assert.equal(describeRunModel('m', ['a.csv', 'photos']), 'model m');
    assert.equal(describeRunModel('m', ['batch.jsonl']), 'model m (batch request lines naming a model use theirs)');
  });

  it('requires a model unless every input is JSONL', () => {
    assert.deepEqual(missingModelIssues({ inputs: ['a.jsonl', 'data/*.ndjson'] }), []);
    assert.deepEqual(missingModelIssues({ inputs: ['a.csv'], model: 'm' }), []);
    assert.equal(missingModelIssues({ inputs: ['a.jsonl', 'b.csv', 'photos'] })[0]?.message, 'is required (b.csv, photos are not JSONL; only JSONL request lines can name their own model)');
    assert.equal(missingModelIssues({ inputs: [] })[0]?.message, 'is required');
  });
});

describe('InputTally', () => {
  it('says what reading skipped, and warns about an empty file at once', () => {
    const warnings: string[] = [];
    const tally = new InputTally((m) => warnings.push(m));
    assert.equal(tally.describe(), '');
    tally.skippedNotImages = 2;
    tally.emptyFile('data/empty.csv');
    assert.deepEqual(warnings, ['data/empty.csv has no items (the file is empty, or a CSV has only its header)']);
    assert.equal(tally.describe(), 'skipped 2 files that are not images, 1 empty file (data/empty.csv)');
    tally.skippedNotImages = 1;
    assert.match(tally.describe(), /^skipped 1 file that is not an image,/);
  });

  it('lists models by items, most first', () => {
    const tally = new InputTally();
    for (const m of ['b', 'a', 'a', 'c', 'a', 'b']) tally.countModel(m);
    assert.equal(tally.describeModels(), 'a (3), b (2), c (1)');
  });
});
