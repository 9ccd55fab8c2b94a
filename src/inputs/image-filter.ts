import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readHead } from './images.js';
import { describeUnsupported, sniffImageType } from './image-type.js';

/** Names of image files, supported or convertible; a file named so is an image the user meant to send. */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.jpe', '.gif', '.webp', '.bmp', '.dib', '.tif', '.tiff', '.heic', '.heif', '.avif']);

/**
 * True for a file in a folder walk that is not an image by name AND not by content (README.txt, notes,
 * thumbnails databases): it is skipped without a line. A file that is an image by either (a photo.jpg
 * holding text, a PNG named .dat) is still read, and rejected with its reason when it cannot be sent.
 * A file that cannot be read is not skipped: the reader reports why.
 */
export async function isSkippableNonImage(absPath: string): Promise<boolean> {
  if (IMAGE_EXTENSIONS.has(path.extname(absPath).toLowerCase())) return false;
  let head: Uint8Array;
  try {
    // Only regular files are opened: reading a FIFO or a device could block.
    if (!(await stat(absPath)).isFile()) return false;
    head = await readHead(absPath);
  } catch {
    return false;
  }
  return sniffImageType(head) === null && describeUnsupported(head) === null;
}
