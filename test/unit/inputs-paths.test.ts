import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import fg from 'fast-glob';
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

  it('agrees with fast-glob on every kind of glob syntax, though it asks fast-glob only about paths that could be patterns', () => {
    const inputs = [
      'a.csv', 'dir/sub/file.jsonl', '/abs/path/x.png', 'name with spaces.csv', 'we,ird.csv', 'a..b.csv', 'v1.2/data.csv',
      '*.csv', 'a?.csv', '!not.csv', 'x!.csv', '[ab].csv', '[.csv', '(a|b).csv', '(ab).csv', '@(a).csv', '+(a|b).csv',
      '{a,b}.csv', '{a}.csv', '{1..3}.csv', 'a\\b.csv', 'photos/**', 'c:(d).csv',
    ];
    for (const input of inputs) assert.equal(isPattern(input), fg.isDynamicPattern(input), input);
    assert.equal(isPattern(''), false, 'fast-glob itself throws on an empty string');
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
