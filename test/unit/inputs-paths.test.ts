import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { countLineBreaks } from '../../src/inputs/csv.js';
import { isPattern, patternBase } from '../../src/inputs/files.js';

describe('patternBase', () => {
  const cwd = '/data/run';

  it('is the leading segments without glob syntax, resolved against cwd', () => {
    assert.equal(patternBase('photos/**/*.jpg', cwd), path.resolve(cwd, 'photos'));
    assert.equal(patternBase('photos/2024/*.{jpg,png}', cwd), path.resolve(cwd, 'photos/2024'));
    assert.equal(patternBase('a/b*/c/*.png', cwd), path.resolve(cwd, 'a'));
  });

  it('is cwd for a pattern without a folder part, and keeps absolute patterns absolute', () => {
    assert.equal(patternBase('*.png', cwd), cwd);
    assert.equal(patternBase('/srv/images/**/*', cwd), '/srv/images');
    assert.equal(patternBase('/*.png', cwd), '/');
  });
});

describe('isPattern', () => {
  it('tells glob patterns from plain paths', () => {
    assert.equal(isPattern('photos/**/*.jpg'), true);
    assert.equal(isPattern('data/{a,b}.csv'), true);
    assert.equal(isPattern('data/reviews.csv'), false);
  });
});

describe('countLineBreaks', () => {
  it('counts LF, CRLF and a lone CR as one line break each', () => {
    assert.equal(countLineBreaks('no break'), 0);
    assert.equal(countLineBreaks('a\nb'), 1);
    assert.equal(countLineBreaks('a\r\nb\r\nc'), 2);
    assert.equal(countLineBreaks('a\rb\n\nc'), 3);
    assert.equal(countLineBreaks('\r\n\r'), 2);
  });
});
