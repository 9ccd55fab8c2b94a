import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobIdFor } from '../../src/queue/keys.js';
import { itemOfLine, sourceBase } from '../../src/sinks/results-seed.js';

describe('reading results lines back (pure)', () => {
  const line = (o: Record<string, unknown>) => JSON.stringify({ custom_id: 'c1', status: 'completed', run: 'r', source: { file: 'data/in.csv', line: 7 }, ...o });

  it('a respool line of the run: its job id, the source file name and line, its status', () => {
    assert.deepEqual(itemOfLine(line({}), 'r'), { id: jobIdFor('r', 'c1'), base: 'in.csv:7', status: 'completed', repeated: false });
    assert.deepEqual(itemOfLine(line({ source: { path: 'imgs/a/cat.png' }, status: 'failed' }), 'r'), { id: jobIdFor('r', 'c1'), base: 'cat.png', status: 'failed', repeated: false });
  });

  it('lines of other runs, without a custom_id, or not JSON (a torn last line) are not the run\'s', () => {
    assert.equal(itemOfLine(line({ run: 'other' }), 'r'), null);
    assert.equal(itemOfLine(JSON.stringify({ status: 'completed', run: 'r' }), 'r'), null);
    assert.equal(itemOfLine(line({}).slice(0, 30), 'r'), null);
    assert.equal(itemOfLine('[1,2]', 'r'), null);
  });

  it('a provider batch line: recognised by the id made from the run\'s job id; it names no source', () => {
    const id = jobIdFor('r', 'c1');
    const ok = { id: `batch_req_${id.slice(1)}`, custom_id: 'c1', response: { status_code: 200, request_id: null, body: {} }, error: null };
    assert.deepEqual(itemOfLine(JSON.stringify(ok), 'r'), { id, base: null, status: 'completed', repeated: false });
    assert.equal(itemOfLine(JSON.stringify(ok), 'another-run'), null, 'the id is another run\'s');
    assert.equal(itemOfLine(JSON.stringify({ ...ok, response: null, error: { code: 'timeout', message: 'x' } }), 'r')?.status, 'failed');
  });

  it('sourceBase: the last path part (either separator) and the line', () => {
    assert.equal(sourceBase({ file: 'a/b/c.jsonl', line: 3 }), 'c.jsonl:3');
    assert.equal(sourceBase({ file: 'c.jsonl', line: 3 }), 'c.jsonl:3');
    assert.equal(sourceBase({ path: 'C:\\\\data\\\\x.png' }), 'x.png');
    assert.equal(sourceBase(null), null);
    assert.equal(sourceBase({ file: 'x' }), null);
  });
});
