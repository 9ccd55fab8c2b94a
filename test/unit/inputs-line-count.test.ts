import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { itemsFromLines, NonBlankLineCounter } from '../../src/inputs/line-count.js';

function count(...chunks: string[]): number {
  const counter = new NonBlankLineCounter();
  for (const c of chunks) counter.add(Buffer.from(c));
  return counter.count();
}

describe('NonBlankLineCounter', () => {
  it('counts lines that hold something, with or without a final newline', () => {
    assert.equal(count('a\nb\nc\n'), 3);
    assert.equal(count('a\nb\nc'), 3);
    assert.equal(count(''), 0);
  });

  it('skips blank and whitespace-only lines, as the readers do, and CRLF endings count once', () => {
    assert.equal(count('a\n\n  \n\t\r\nb\r\n\r\n'), 2);
  });

  it('counts a line split across chunks once', () => {
    assert.equal(count('{"prompt":', '"x"}\n{"pro', 'mpt":"y"}'), 2);
    assert.equal(count('a\r', '\n', '\n', 'b'), 2);
  });
});

describe('itemsFromLines', () => {
  it('takes the header off a CSV file; JSONL lines are items', () => {
    assert.equal(itemsFromLines('.csv', 101), 100);
    assert.equal(itemsFromLines('.csv', 0), 0);
    assert.equal(itemsFromLines('.jsonl', 101), 101);
  });
});
