import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReadOutcome } from '../../src/core/item.js';
import type { ReadOptions } from '../../src/inputs/index.js';
import { seenNow } from '../helpers/seen.js';
import { ROOT } from '../helpers/cli.js';
import { item, readAll, rejection } from '../helpers/read-outcomes.js';

/** [customId, line, text] of each item, for compact comparisons. */
function summary(outcomes: ReadOutcome[]): [string, number, string][] {
  return outcomes.map((o) => {
    const it = item(o);
    assert.ok('line' in it.source && it.request.kind === 'prompt');
    return [it.customId, it.source.line, it.request.text];
  });
}

describe('CSV reader: the demo file (BOM, CRLF, quotes, embedded newline, unicode)', () => {
  it('yields the exact texts, ids and starting line numbers', async () => {
    const outcomes = await readAll(['fixtures/reviews.csv'], { cwd: ROOT, template: '[{{lang}}] {{text}}' });
    assert.deepEqual(summary(outcomes), [
      ['r1', 2, '[en] Great kettle, boils fast and looks good.'],
      ['r2', 3, '[en] Stopped working after a week.\nSupport never answered my emails.'],
      ['r3', 5, '[en] The box says "BPA free" but it smells of plastic.'],
      ['r4', 6, '[fr] Très bien 👍 je recommande'],
      ['r5', 7, '[ja] とても使いやすいです。お湯がすぐ沸きます。'],
      ['r6', 8, '[de] Sehr gut, aber etwas laut.'],
      ['r7', 9, '[en] Arrived two days late; works fine.'],
      ['r8', 10, '[es] Muy bueno, lo recomiendo "100%".'],
    ]);
    for (const o of outcomes) {
      assert.equal((item(o).source as { file: string }).file, 'fixtures/reviews.csv');
      assert.deepEqual((item(o).request as { images: unknown[] }).images, []);
    }
  });

  it('does not leave the BOM in the first column name', async () => {
    const outcomes = await readAll(['fixtures/reviews.csv'], { cwd: ROOT, template: '{{id}}' });
    assert.equal((item(outcomes[0]).request as { text: string }).text, 'r1');
  });

  it('reports the SourceRef path relative to cwd', async () => {
    const outcomes = await readAll(['reviews.csv'], { cwd: path.join(ROOT, 'fixtures'), template: '{{text}}' });
    assert.deepEqual(item(outcomes[0]).source, { file: 'reviews.csv', line: 2 });
  });
});

describe('CSV reader: bad rows', () => {
  it('rejects rows with the wrong number of fields and an empty id, naming file and line, and reads the rest', async () => {
    const outcomes = await readAll(['test/fixtures/rows-with-errors.csv'], { cwd: ROOT, template: '{{text}}' });
    assert.equal(outcomes.length, 6);
    assert.deepEqual(summary([outcomes[0], outcomes[3], outcomes[5]] as ReadOutcome[]), [
      ['a1', 2, 'first row'],
      ['a4', 5, 'spans\ntwo lines'],
      ['a6', 8, 'last row'],
    ]);
    assert.deepEqual(rejection(outcomes[1]), {
      customId: 'rows-with-errors.csv:3',
      source: { file: 'test/fixtures/rows-with-errors.csv', line: 3 },
      reason: 'test/fixtures/rows-with-errors.csv:3: the row has 4 fields but the header has 3 columns',
    });
    assert.match(rejection(outcomes[2]).reason, /rows-with-errors\.csv:4: the row has 2 fields but the header has 3 columns/);
    assert.deepEqual(rejection(outcomes[4]).source, { file: 'test/fixtures/rows-with-errors.csv', line: 7 });
    assert.match(rejection(outcomes[4]).reason, /:7: the id column "id" is empty/);
  });

  it('rejects every row whose template column is missing, naming the columns', async () => {
    const outcomes = await readAll(['fixtures/reviews.csv'], { cwd: ROOT, template: '{{text}} {{rating}} {{ stars }}' });
    assert.equal(outcomes.length, 8);
    for (const o of outcomes) assert.match(rejection(o).reason, /fixtures\/reviews\.csv:\d+: the template uses column\(s\) missing from the file: rating, stars$/);
    assert.equal(rejection(outcomes[0]).customId, 'r1');
  });

  it('stops a file at unrecoverable quoting with one rejection after the good rows, then reads the next input', async () => {
    const outcomes = await readAll(['test/fixtures/broken-quote.csv', 'fixtures/reviews.csv'], { cwd: ROOT, template: '{{text}}' });
    assert.deepEqual(summary(outcomes.slice(0, 2)), [
      ['b1', 2, 'fine'],
      ['b2', 3, 'also fine'],
    ]);
    const broken = rejection(outcomes[2]);
    assert.deepEqual(broken.source, { file: 'test/fixtures/broken-quote.csv', line: 4 });
    assert.match(broken.reason, /^test\/fixtures\/broken-quote\.csv:4: malformed CSV \(.*\); the rest of this file was not read$/);
    assert.equal(outcomes.length, 3 + 8, 'the second input is read in full');
    assert.equal(item(outcomes[3]).customId, 'r1');
  });
});

describe('CSV reader: ids, line numbers and images', () => {
  let dir: string;
  const opts = (extra: Partial<ReadOptions> = {}): ReadOptions => ({ cwd: dir, template: '{{text}}', ...extra });
  const write = (name: string, content: string | Buffer) => writeFile(path.join(dir, name), content);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-csv-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('counts a CRLF inside a quoted field as one line, and skipped empty lines as lines', async () => {
    await write('lines.csv', 'text\r\n"one\r\ntwo\r\nthree"\r\n\r\n\r\nfour\r\n"five\rsix"\nseven\n');
    const outcomes = await readAll(['lines.csv'], opts());
    assert.deepEqual(summary(outcomes), [
      ['lines.csv:2', 2, 'one\r\ntwo\r\nthree'],
      ['lines.csv:7', 7, 'four'],
      ['lines.csv:8', 8, 'five\rsix'],
      ['lines.csv:10', 10, 'seven'],
    ]);
  });

  it('prefers custom_id over id, and uses idColumn when given', async () => {
    await write('ids.csv', 'id,custom_id,key,text\n1,c-1,k-1,hello\n');
    assert.equal(item((await readAll(['ids.csv'], opts()))[0]).customId, 'c-1');
    assert.equal(item((await readAll(['ids.csv'], opts({ idColumn: 'key' })))[0]).customId, 'k-1');
  });

  it('rejects the file once when idColumn is not in the header', async () => {
    await write('noid.csv', 'text\nhello\nworld\n');
    const outcomes = await readAll(['noid.csv'], opts({ idColumn: 'key' }));
    assert.equal(outcomes.length, 1);
    assert.match(rejection(outcomes[0]).reason, /noid\.csv:1: the id column "key" is not in the header; the file was not read/);
  });

  it('rejects a header that names a column twice', async () => {
    await write('dup.csv', 'text,text\na,b\n');
    const outcomes = await readAll(['dup.csv'], opts());
    assert.equal(outcomes.length, 1);
    assert.match(rejection(outcomes[0]).reason, /names column "text" twice/);
  });

  it('reports a quote left open at the end of the file', async () => {
    await write('open.csv', 'text\nfine\n"never closed\nmore\n');
    const outcomes = await readAll(['open.csv'], opts());
    assert.equal(item(outcomes[0]).customId, 'open.csv:2');
    assert.deepEqual(rejection(outcomes[1]).source, { file: 'open.csv', line: 3 });
    assert.match(rejection(outcomes[1]).reason, /malformed CSV/);
  });

  it('yields nothing for a header-only or empty file', async () => {
    await write('header-only.csv', 'id,text\r\n');
    await write('empty.csv', '');
    assert.deepEqual(await readAll(['header-only.csv', 'empty.csv'], opts()), []);
  });

  it('accepts a column named like an Object.prototype member', async () => {
    await write('proto.csv', '__proto__,constructor\nx,y\n');
    const outcomes = await readAll(['proto.csv'], opts({ template: '{{__proto__}}-{{constructor}}' }));
    assert.equal((item(outcomes[0]).request as { text: string }).text, 'x-y');
  });

  it('attaches images from an `image` column: files checked relative to the CSV, URLs as they are', async () => {
    const outcomes = await readAll(['test/fixtures/with-images.csv'], { cwd: ROOT, template: '{{text}}' });
    assert.deepEqual(item(outcomes[0]).request, {
      kind: 'prompt',
      text: 'local file',
      images: [{ kind: 'file', path: path.join(ROOT, 'test/fixtures/images/ok.png'), seen: seenNow(path.join(ROOT, 'test/fixtures/images/ok.png')) }],
    });
    assert.deepEqual(item(outcomes[1]).request, { kind: 'prompt', text: 'remote', images: [{ kind: 'url', url: 'https://example.com/cat.png' }] });
    assert.deepEqual(item(outcomes[2]).request, { kind: 'prompt', text: 'no image', images: [] });
    assert.match(rejection(outcomes[3]).reason, /with-images\.csv:5: image "images\/nope\.png": cannot read the file: it does not exist/);
    assert.match(rejection(outcomes[4]).reason, /with-images\.csv:6: image "images\/fake\.jpg": not an image/);
    assert.equal(rejection(outcomes[4]).customId, 'i5');
  });
});
