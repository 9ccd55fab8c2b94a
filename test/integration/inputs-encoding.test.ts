import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Item, ReadOutcome } from '../../src/core/item.js';
import { InputTally } from '../../src/inputs/index.js';
import { ROOT } from '../helpers/cli.js';
import { readAll, rejection } from '../helpers/read-outcomes.js';

function summary(outcomes: ReadOutcome[]): Array<[string, string]> {
  return outcomes.map((o) => (o.type === 'item' ? [o.item.customId, requestText(o.item)] : [o.rejection.customId, `rejected: ${o.rejection.reason}`]));
}

function requestText(item: Item): string {
  return item.request.kind === 'prompt' ? item.request.text : JSON.stringify(item.request);
}

describe('reading files that are not UTF-8, and folders with files that are not images', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-encoding-'));
    // A quoted field spanning lines 2-3, with the invalid byte on line 3: the row (line 2) is rejected.
    await writeFile(path.join(dir, 'multi.csv'), Buffer.concat([Buffer.from('\uFEFFid,text\r\na,"one\r\n', 'utf8'), Buffer.from('two \xe9"\r\n', 'latin1'), Buffer.from('b,fine ✓\r\n', 'utf8')]));
    await writeFile(path.join(dir, 'bad-header.csv'), Buffer.from('id,t\xe9xt\nx,y\n', 'latin1'));
    await writeFile(path.join(dir, 'quotes.csv'), Buffer.from('id,text\nq,\x93quoted\x94 \x80\n', 'latin1'));
    await writeFile(path.join(dir, 'bom.jsonl'), Buffer.concat([Buffer.from('\uFEFF{"custom_id":"ok","prompt":"h\u00e9"}\n', 'utf8'), Buffer.from('{"prompt":"\xff"}\r\n', 'latin1'), Buffer.from('{"custom_id":"after","prompt":"z"}', 'utf8')]));
    await mkdir(path.join(dir, 'pics'));
    await copyFile(path.join(ROOT, 'test/fixtures/images/ok.png'), path.join(dir, 'pics/ok.png'));
    await writeFile(path.join(dir, 'pics/Thumbs.db'), Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]));
    await writeFile(path.join(dir, 'pics/empty'), '');
    await copyFile(path.join(ROOT, 'test/fixtures/images/old.bmp'), path.join(dir, 'pics/scan'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('rejects a CSV row by its start line when any line of it is not valid UTF-8, and reads on; a BOM is fine', async () => {
    const got = summary(await readAll(['multi.csv'], { cwd: dir, template: '{{text}}' }));
    assert.deepEqual(got, [
      ['a', 'rejected: multi.csv:2: the line is not valid UTF-8 (set `encoding`, e.g. latin1, to read such a file) (line 3 of the row)'],
      ['b', 'fine ✓'],
    ]);
  });

  it('rejects a whole CSV file whose header is not valid UTF-8', async () => {
    const outcomes = await readAll(['bad-header.csv'], { cwd: dir });
    assert.equal(outcomes.length, 1);
    assert.equal(rejection(outcomes[0]).reason, 'bad-header.csv:1: the header is not valid UTF-8 (set `encoding`, e.g. latin1, to read such a file); the file was not read');
  });

  it('reads windows-1252 curly quotes and the euro sign with encoding latin1', async () => {
    assert.deepEqual(summary(await readAll(['quotes.csv'], { cwd: dir, template: '{{text}}', encoding: 'latin1' })), [['q', '“quoted” €']]);
    assert.match(summary(await readAll(['quotes.csv'], { cwd: dir, template: '{{text}}' }))[0]?.[1] ?? '', /rejected: quotes\.csv:2: the line is not valid UTF-8/);
  });

  it('rejects a JSONL line that is not valid UTF-8 under its file:line id, with a BOM and CRLF around it', async () => {
    assert.deepEqual(summary(await readAll(['bom.jsonl'], { cwd: dir })), [
      ['ok', 'hé'],
      ['bom.jsonl:2', 'rejected: bom.jsonl:2: the line is not valid UTF-8 (set `encoding`, e.g. latin1, to read such a file)'],
      ['after', 'z'],
    ]);
  });

  it('skips files in a folder that are images by neither name nor content, and counts them; an image without an image name is read', async () => {
    const tally = new InputTally();
    const got = summary(await readAll(['pics'], { cwd: dir, tally }));
    assert.deepEqual(got.map(([id]) => id), ['ok.png', 'scan']);
    // `scan` is a BMP by its bytes: not skipped, rejected with the reason.
    assert.match(got[1]?.[1] ?? '', /rejected: pics\/scan: BMP images are not accepted/);
    assert.equal(tally.skippedNotImages, 2);
    assert.equal(tally.describe(), 'skipped 2 files that are not images');
  });
});
