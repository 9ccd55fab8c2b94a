/**
 * What makes an item "the same" for incremental runs: the bytes of its images, not their names, so a
 * renamed or moved photo is not captioned again and an edited one is. Items without image files are
 * keyed by their request (the text sent). Pure, except for `fileSha256`, which streams a file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ImageRef, ItemRequest } from '../core/item.js';

export function fileSha256(absPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(absPath)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** The images of an item, in order: files to hash, URLs keyed by their text. */
export function imageRefsOf(request: ItemRequest): ImageRef[] {
  return request.kind === 'body' ? [] : request.images;
}

/** The key of one image: the SHA-256 of a file's bytes, or the URL itself. */
export function imageKey(ref: ImageRef, fileHash: string | null): string {
  return ref.kind === 'file' ? fileHash ?? '' : `url\0${ref.url}`;
}

/**
 * One image: its SHA-256. Several: the SHA-256 of their hashes in order (the same photos in another
 * order make another item). No image files: the SHA-256 of the request, marked so it can never equal
 * an image's hash.
 */
export function contentKey(request: ItemRequest, imageKeys: readonly string[]): string {
  if (imageKeys.length === 1 && /^[0-9a-f]{64}$/.test(imageKeys[0]!)) return imageKeys[0]!;
  if (imageKeys.length > 0) return createHash('sha256').update(`images\0${imageKeys.join('\0')}`).digest('hex');
  return createHash('sha256').update(`request\0${JSON.stringify(request)}`).digest('hex');
}

/** Lines whose items count as done for good: only these record their key, so failures are retried. */
export function recordsContent(status: string): boolean {
  return status === 'completed';
}
