import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReadOutcome } from '../../src/core/item.js';
import { seenNow } from '../helpers/seen.js';
import { ROOT } from '../helpers/cli.js';
import { item, readAll, rejection } from '../helpers/read-outcomes.js';

const OK_PNG = path.join(ROOT, 'test/fixtures/images/ok.png');

function customIdOf(o: ReadOutcome): string {
  return o.type === 'item' ? o.item.customId : o.rejection.customId;
}

function byId(outcomes: ReadOutcome[], id: string): ReadOutcome | undefined {
  return outcomes.find((o) => customIdOf(o) === id);
}

describe('image folder', () => {
  let outcomes: ReadOutcome[];
  before(async () => {
    outcomes = await readAll(['test/fixtures/images'], { cwd: ROOT });
  });

  it('finds every file recursively, in name order, skipping dotfiles and dot-folders', () => {
    assert.deepEqual(outcomes.map(customIdOf), ['empty.png', 'fake.jpg', 'nested/deeper/photo.JPG', 'ok.png', 'old.bmp']);
  });

  it('makes an item per image: the default prompt, the absolute path, the source relative to cwd', () => {
    assert.deepEqual(item(byId(outcomes, 'nested/deeper/photo.JPG')), {
      customId: 'nested/deeper/photo.JPG',
      source: { path: 'test/fixtures/images/nested/deeper/photo.JPG' },
      request: { kind: 'prompt', text: 'Describe this image.', images: [{ kind: 'file', path: path.join(ROOT, 'test/fixtures/images/nested/deeper/photo.JPG'), seen: seenNow(path.join(ROOT, 'test/fixtures/images/nested/deeper/photo.JPG')) }] },
    });
    assert.equal(item(byId(outcomes, 'ok.png')).customId, 'ok.png');
  });

  it('rejects a non-image, a BMP and an empty file with reasons', () => {
    assert.equal(rejection(byId(outcomes, 'fake.jpg')).reason, 'test/fixtures/images/fake.jpg: not an image: the file does not start like a PNG, JPEG, GIF or WebP file');
    assert.equal(rejection(byId(outcomes, 'old.bmp')).reason, 'test/fixtures/images/old.bmp: BMP images are not accepted by the API (use PNG, JPEG, GIF or WebP)');
    assert.equal(rejection(byId(outcomes, 'empty.png')).reason, 'test/fixtures/images/empty.png: the file is empty');
    assert.deepEqual(rejection(byId(outcomes, 'empty.png')).source, { path: 'test/fixtures/images/empty.png' });
  });

  it('reads the demo folder: images only, uppercase extension included', async () => {
    const demo = await readAll(['fixtures/images'], { cwd: ROOT });
    assert.deepEqual(demo.map((o) => item(o).customId), ['gradient.png', 'nested/deeper/sunset.PNG', 'shapes/checkerboard.jpg', 'shapes/circle.png']);
  });
});

describe('image inputs: globs, single files, prompts and limits', () => {
  it('matches a glob case-insensitively, with ids relative to the static part of the pattern', async () => {
    const outcomes = await readAll(['test/fixtures/images/**/*.jpg'], { cwd: ROOT });
    assert.deepEqual(outcomes.map(customIdOf), ['fake.jpg', 'nested/deeper/photo.JPG']);
    assert.deepEqual(item(outcomes[1]).source, { path: 'test/fixtures/images/nested/deeper/photo.JPG' });
  });

  it('uses the file name as the id of a single file', async () => {
    const outcomes = await readAll(['test/fixtures/images/nested/deeper/photo.JPG'], { cwd: ROOT });
    assert.equal(item(outcomes[0]).customId, 'photo.JPG');
  });

  it('renders {{path}} and {{name}} in the image prompt and rejects unknown placeholders', async () => {
    const [ok] = await readAll(['test/fixtures/images/nested'], { cwd: ROOT, imagePrompt: 'Caption {{ path }} ({{name}}).' });
    assert.equal((item(ok).request as { text: string }).text, 'Caption deeper/photo.JPG (photo.JPG).');
    const [bad] = await readAll(['test/fixtures/images/nested'], { cwd: ROOT, imagePrompt: 'Caption {{title}}' });
    assert.match(rejection(bad).reason, /unknown placeholder\(s\) title; only \{\{path\}\} and \{\{name\}\}/);
  });

  it('rejects an image over maxImageBytes', async () => {
    const [big] = await readAll(['test/fixtures/images/ok.png'], { cwd: ROOT, maxImageBytes: 100 });
    assert.match(rejection(big).reason, /ok\.png: the image is \d+ bytes, over the limit of 100 bytes/);
  });

  it('rejects a path or pattern that matches nothing, once each', async () => {
    const outcomes = await readAll(['no/such/file.png', 'test/fixtures/images/**/*.gif'], { cwd: ROOT });
    assert.deepEqual(outcomes.map(rejection), [
      { customId: 'no/such/file.png', source: { path: 'no/such/file.png' }, reason: 'nothing matched "no/such/file.png": no such file or folder' },
      {
        customId: 'test/fixtures/images/**/*.gif',
        source: { path: 'test/fixtures/images/**/*.gif' },
        reason: 'nothing matched "test/fixtures/images/**/*.gif": the pattern matched no files (names starting with a dot are skipped)',
      },
    ]);
  });
});

describe('image inputs: files that cannot be read', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-images-'));
    await mkdir(path.join(dir, 'photos'));
    await copyFile(OK_PNG, path.join(dir, 'photos/a.png'));
    // Unreadable even for root: a link to nothing, and a folder named like an image (used from a CSV).
    await symlink(path.join(dir, 'missing-target.png'), path.join(dir, 'photos/broken.png'));
    await mkdir(path.join(dir, 'x.png'));
    await writeFile(path.join(dir, 'rows.csv'), 'id,text,image\nr1,folder,x.png\n');
    // A link back to an ancestor must not make the walk loop forever.
    await symlink(dir, path.join(dir, 'photos/loop'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects a broken symbolic link with a reason and reads the rest of the folder', async () => {
    const outcomes = await readAll(['photos'], { cwd: dir });
    assert.equal(item(byId(outcomes, 'a.png')).customId, 'a.png');
    assert.match(rejection(byId(outcomes, 'broken.png')).reason, /photos\/broken\.png: cannot read the file: it does not exist \(or is a broken symbolic link\)/);
    // photos/loop -> dir: its contents are walked once (dir/photos is then an ancestor and is not re-entered).
    assert.ok(outcomes.length < 20, `walk ended with ${outcomes.length} outcomes`);
  });

  it('rejects an explicitly named broken symbolic link instead of reporting that nothing matched', async () => {
    const [outcome] = await readAll(['photos/broken.png'], { cwd: dir });
    assert.match(rejection(outcome).reason, /cannot read the file/);
  });

  it('rejects a CSV image that is a folder', async () => {
    const [outcome] = await readAll(['rows.csv'], { cwd: dir, template: '{{text}}' });
    assert.equal(rejection(outcome).reason, 'rows.csv:2: image "x.png": this is a directory, not an image file');
  });

  it('rejects a file without read permission', async (t) => {
    const locked = path.join(dir, 'locked.png');
    await copyFile(OK_PNG, locked);
    await chmod(locked, 0o000);
    if (process.getuid?.() === 0) {
      t.skip('running as root: permissions do not stop root from reading (the broken-link case covers unreadable files)');
      return;
    }
    const [outcome] = await readAll(['locked.png'], { cwd: dir });
    assert.match(rejection(outcome).reason, /locked\.png: cannot read the file: permission denied/);
  });
});
