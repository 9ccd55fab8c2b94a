import assert from 'node:assert/strict';
import { copyFile, mkdir, rename, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FakeServer } from '../../src/fake-server/index.js';
import type { Respool } from '../../src/index.js';
import { readLines, ROOT, testPrefix } from '../helpers/cli.js';
import { withLibrary } from '../helpers/library.js';

const PNG = path.join(ROOT, 'test/fixtures/images/ok.png');
const OUTSIDE_JPEG = path.join(ROOT, 'test/fixtures/images/nested/deeper/photo.JPG');

/**
 * An image folder is enqueued, then changed before a worker reads it: the worker must send the file
 * enqueue checked, or nothing. Real files, real Redis, the fake server over HTTP (which records the
 * images it receives); enqueue, workers and collector in process through the library.
 */
describe('image files are checked again when the worker reads them', () => {
  let fake: FakeServer;
  let rp: Respool;
  const prefix = testPrefix();
  let dir: string;
  withLibrary(prefix, (s) => ({ fake, dir, rp } = s));

  it('an image swapped for a link to an outside file, or replaced, after enqueue: rejected lines, no outside bytes sent', async () => {
    const pics = path.join(dir, 'pics');
    const outside = path.join(dir, 'outside');
    await mkdir(pics, { recursive: true });
    await mkdir(outside, { recursive: true });
    for (const name of ['a.png', 'b.png', 'c.png']) await copyFile(PNG, path.join(pics, name));
    await copyFile(OUTSIDE_JPEG, path.join(outside, 'secret.jpg'));
    const out = path.join(dir, 'swap.jsonl');
    const enqueued = await rp.enqueue({ name: 'swap', inputs: pics, model: 'm', base_url: fake.url, out, resize: 'off' });
    assert.equal(enqueued.added, 3);

    // After enqueue: a.png becomes a link to the outside file; b.png is replaced by a copy of it.
    await unlink(path.join(pics, 'a.png'));
    await symlink(path.join(outside, 'secret.jpg'), path.join(pics, 'a.png'));
    await copyFile(OUTSIDE_JPEG, path.join(dir, 'b.tmp'));
    await rename(path.join(dir, 'b.tmp'), path.join(pics, 'b.png'));

    fake.reset();
    const worker = await rp.work({ name: 'swap' });
    const collected = await rp.collect('swap');
    assert.equal(await worker.stop(), true);
    assert.equal(collected.outcome, 'complete');
    // The swapped files are rejected lines, not failed ones.
    assert.equal(collected.failedLines, 0);
    assert.equal(collected.out, out);
    assert.equal(collected.totals.byStatus.rejected, 2);

    const byId = new Map((await readLines(out)).map((l) => [l.custom_id, l]));
    assert.equal(byId.size, 3);
    assert.equal(byId.get('c.png')?.status, 'completed', JSON.stringify(byId.get('c.png')));
    const linked = byId.get('a.png')!;
    assert.equal(linked.status, 'rejected', JSON.stringify(linked));
    assert.equal(linked.error?.type, 'rejected_input');
    assert.match(linked.error!.message, /a\.png: the file was replaced by a symbolic link after it was queued/);
    const replaced = byId.get('b.png')!;
    assert.equal(replaced.status, 'rejected', JSON.stringify(replaced));
    assert.match(replaced.error!.message, /b\.png: not the file that was queued \(it is another file \(inode\); its size is \d+ bytes, was 392/);

    // Only c.png reached the API: one PNG of the enqueued size, never the outside JPEG.
    const secretBytes = (await stat(OUTSIDE_JPEG)).size;
    const images = fake.stats().images;
    assert.deepEqual(images.map((i) => [i.mime, i.bytes]), [['image/png', 392]]);
    assert.ok(images.every((i) => i.bytes !== secretBytes && i.mime !== 'image/jpeg'));
  });
});
