import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, realpath, rename, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fingerprintMismatch, fingerprintOf } from '../../src/core/file-fingerprint.js';
import { readEnqueuedImage } from '../../src/worker/images/read-enqueued.js';
import { ROOT, tempDir } from '../helpers/cli.js';

const PNG = path.join(ROOT, 'test/fixtures/images/ok.png');
const MAX = 15 * 1024 * 1024;

/** The worker's read of an image file against what enqueue recorded, on real files. */
describe('readEnqueuedImage', () => {
  let dir: string;
  before(async () => {
    dir = await realpath(await tempDir());
  });

  const refFor = async (file: string, host = hostname()) => ({ kind: 'file' as const, path: file, seen: fingerprintOf(await stat(file), host) });

  it('returns the bytes of the file enqueued', async () => {
    const file = path.join(dir, 'same.png');
    await copyFile(PNG, file);
    assert.deepEqual(await readEnqueuedImage(await refFor(file), MAX), await readFile(PNG));
  });

  it('refuses a file changed in place (same inode, new mtime)', async () => {
    const file = path.join(dir, 'edited.png');
    await copyFile(PNG, file);
    const ref = await refFor(file);
    await utimes(file, new Date(), new Date(Date.now() + 60_000));
    await assert.rejects(readEnqueuedImage(ref, MAX), /edited\.png: not the file that was queued \(its modification time changed\); not sent/);
  });

  it('on another machine (inode not compared): a folder on the path swapped for a link is refused by where the file really is', async () => {
    const folder = path.join(dir, 'shared');
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(folder);
    await mkdir(elsewhere);
    await copyFile(PNG, path.join(folder, 'p.png'));
    await copyFile(PNG, path.join(elsewhere, 'p.png'));
    const ref = await refFor(path.join(folder, 'p.png'), 'another-machine');
    // The decoy has the same size and mtime, so only the path check can tell.
    const { mtime } = await stat(ref.path);
    await utimes(path.join(elsewhere, 'p.png'), mtime, mtime);
    await rename(folder, path.join(dir, 'shared.old'));
    await symlink(elsewhere, folder);
    await assert.rejects(readEnqueuedImage(ref, MAX), /p\.png: the file opened is at .*elsewhere\/p\.png \(the file was moved, or a folder on its path was replaced by a link, after it was queued\); not sent/);
  });

  it('refuses a FIFO put in the file\'s place without blocking', async () => {
    const file = path.join(dir, 'fifo.png');
    await copyFile(PNG, file);
    const ref = await refFor(file);
    await rename(file, `${file}.old`);
    execFileSync('mkfifo', [file]);
    await assert.rejects(readEnqueuedImage(ref, MAX), /fifo\.png: not a regular file/);
  });

  it('a job queued by an earlier version (no fingerprint) is read as before, links followed', async () => {
    const link = path.join(dir, 'old-job.png');
    await symlink(PNG, link);
    assert.deepEqual(await readEnqueuedImage({ kind: 'file', path: link }, MAX), await readFile(PNG));
  });

  it('refuses a file over the size limit before reading it', async () => {
    const file = path.join(dir, 'big.png');
    await writeFile(file, Buffer.alloc(2048));
    await assert.rejects(readEnqueuedImage(await refFor(file), 1024), /big\.png: the image is 2048 bytes, over the limit of 1024 bytes/);
  });
});

describe('fingerprintMismatch', () => {
  const seen = { size: 10, mtime: 1000, ino: 7, dev: 3, host: 'h1' };
  it('the same file matches; inode and device count only on the machine that enqueued', () => {
    assert.equal(fingerprintMismatch(seen, { size: 10, mtimeMs: 1000.7, ino: 7, dev: 3 }, 'h1'), null);
    assert.equal(fingerprintMismatch(seen, { size: 10, mtimeMs: 1000, ino: 99, dev: 4 }, 'h2'), null);
    assert.equal(fingerprintMismatch(seen, { size: 10, mtimeMs: 1000, ino: 99, dev: 3 }, 'h1'), 'it is another file (inode)');
    assert.equal(fingerprintMismatch(seen, { size: 11, mtimeMs: 2000, ino: 7, dev: 3 }, 'h2'), 'its size is 11 bytes, was 10; its modification time changed');
  });
});
