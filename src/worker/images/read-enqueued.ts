/**
 * Reads an image file in the worker, making sure it is the file that enqueue checked. Between enqueue
 * and the worker's read, whoever can write the image folder could swap the image for a link to a file
 * the user never meant to send (`~/.ssh/id_rsa`, another tenant's photo). So the worker
 * - opens the real path recorded at enqueue with O_NOFOLLOW: a link put in its place is not followed;
 * - checks on the open file that it still resolves to that real path (a folder on the way swapped for
 *   a link leads elsewhere), and that it is the same file: inode, size and mtime (./file-fingerprint);
 * - reads only from that open file, so nothing can change between the checks and the read.
 * Any mismatch throws an Error naming the file; the processor makes it a `rejected` line.
 */
import { constants, type Stats } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { fingerprintMismatch } from '../../core/file-fingerprint.js';
import type { ImageRef } from '../../core/item.js';

type FileImage = Extract<ImageRef, { kind: 'file' }>;

// O_NOFOLLOW is missing on Windows, where links need privileges to make.
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;
// A FIFO put in the file's place must not block the open; it is refused as not a regular file.
const NON_BLOCK = constants.O_NONBLOCK ?? 0;

export async function readEnqueuedImage(ref: FileImage, maxBytes: number): Promise<Buffer> {
  // Jobs queued by an earlier version have no fingerprint, and may hold a path through a link.
  const checked = ref.seen !== undefined;
  let handle: FileHandle;
  try {
    handle = await open(ref.path, constants.O_RDONLY | NON_BLOCK | (checked ? NO_FOLLOW : 0));
  } catch (err) {
    throw new Error(`${ref.path}: ${openFailure(err)}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`${ref.path}: not a regular file (it was replaced after it was queued); not sent`);
    if (checked) await assertSameFile(ref, handle, info);
    // The cap applies to the file as it is on disk, checked before it is read.
    if (info.size > maxBytes) throw new Error(`${ref.path}: the image is ${info.size} bytes, over the limit of ${maxBytes} bytes`);
    return await readExactly(handle, info.size);
  } finally {
    await handle.close();
  }
}

async function assertSameFile(ref: FileImage, handle: FileHandle, info: Stats): Promise<void> {
  const where = await realPathOfOpenFile(handle, ref.path);
  if (where !== ref.path) {
    throw new Error(`${ref.path}: the file opened is ${where === null ? 'another one' : `at ${where}`} (the file was moved, or a folder on its path was replaced by a link, after it was queued); not sent`);
  }
  const differs = fingerprintMismatch(ref.seen!, info, hostname());
  if (differs !== null) throw new Error(`${ref.path}: not the file that was queued (${differs}); not sent`);
}

/**
 * Where the open file really is. On Linux the kernel says it (/proc/self/fd); elsewhere the path is
 * resolved again and accepted only if it leads to the very file that is open (same device and inode).
 */
async function realPathOfOpenFile(handle: FileHandle, expected: string): Promise<string | null> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    try {
      const real = await realpath(expected);
      const [open, found] = [await handle.stat(), await stat(real)];
      return open.dev === found.dev && open.ino === found.ino ? real : null;
    } catch {
      return null;
    }
  }
}

/** `size` bytes from the start of the open file: what the checks saw, even if the file grows. */
async function readExactly(handle: FileHandle, size: number): Promise<Buffer> {
  const buffer = Buffer.alloc(size);
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

function openFailure(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ELOOP':
    case 'EMLINK': // FreeBSD's answer to O_NOFOLLOW on a link
      return 'the file was replaced by a symbolic link after it was queued; the link is not followed and nothing is sent';
    case 'ENOENT':
      return 'the file no longer exists (it was moved or deleted after it was queued)';
    case 'EACCES':
    case 'EPERM':
      return 'cannot read the file: permission denied';
    default:
      return `cannot read the file: ${(err as Error).message}`;
  }
}
