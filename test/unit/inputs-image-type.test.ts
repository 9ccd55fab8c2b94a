import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  dataUriLength,
  describeUnsupported,
  imageSizeProblem,
  loadImageAsDataUri,
  MAX_IMAGE_URL_CHARS,
  sniffImageType,
} from '../../src/inputs/image-type.js';

/** Signature bytes followed by filler, as the first bytes of a real file would look. */
function head(...parts: (number[] | string)[]): Uint8Array {
  const bytes = parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p));
  return Uint8Array.from([...bytes, ...new Array(32).fill(0)].slice(0, 32));
}

const PNG = head([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0, 0, 0, 13], 'IHDR');
const JPEG = head([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF');
const GIF87 = head('GIF87a');
const GIF89 = head('GIF89a');
const WEBP = head('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 ');
const BMP = head('BM', [0x36, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0], [40, 0, 0, 0]);
const TIFF_LE = head([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]);
const TIFF_BE = head([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]);
const HEIC = head([0, 0, 0, 0x18], 'ftypheic', [0, 0, 0, 0], 'mif1heic');
const AVIF = head([0, 0, 0, 0x1c], 'ftypavif', [0, 0, 0, 0], 'avifmif1miaf');
const AVIF_UNDER_MIF1 = head([0, 0, 0, 0x1c], 'ftypmif1', [0, 0, 0, 0], 'mif1avifmiaf');
const MP4 = head([0, 0, 0, 0x18], 'ftypisom', [0, 0, 2, 0], 'isomiso2');

describe('sniffImageType', () => {
  it('recognises the four supported formats by their first bytes', () => {
    assert.equal(sniffImageType(PNG), 'image/png');
    assert.equal(sniffImageType(JPEG), 'image/jpeg');
    assert.equal(sniffImageType(GIF87), 'image/gif');
    assert.equal(sniffImageType(GIF89), 'image/gif');
    assert.equal(sniffImageType(WEBP), 'image/webp');
  });

  it('returns null for unsupported images, other files, short and empty input', () => {
    for (const bytes of [BMP, TIFF_LE, HEIC, AVIF, MP4]) assert.equal(sniffImageType(bytes), null);
    assert.equal(sniffImageType(Buffer.from('{"not": "an image"}')), null);
    assert.equal(sniffImageType(Uint8Array.from([0x89, 0x50, 0x4e])), null);
    assert.equal(sniffImageType(new Uint8Array(0)), null);
  });

  it('does not take any RIFF file for WebP', () => {
    assert.equal(sniffImageType(head('RIFF', [0x24, 0, 0, 0], 'WAVEfmt ')), null);
  });
});

describe('describeUnsupported', () => {
  it('names BMP, TIFF (both byte orders), HEIC and AVIF', () => {
    assert.equal(describeUnsupported(BMP), 'BMP');
    assert.equal(describeUnsupported(TIFF_LE), 'TIFF');
    assert.equal(describeUnsupported(TIFF_BE), 'TIFF');
    assert.equal(describeUnsupported(HEIC), 'HEIC');
    assert.equal(describeUnsupported(AVIF), 'AVIF');
    assert.equal(describeUnsupported(AVIF_UNDER_MIF1), 'AVIF');
  });

  it('returns null for supported images, non-image ISO media and text that starts with "BM"', () => {
    assert.equal(describeUnsupported(PNG), null);
    assert.equal(describeUnsupported(MP4), null);
    assert.equal(describeUnsupported(Buffer.from('BMW 320i, 2011, very clean, one owner')), null);
  });
});

describe('image size limits', () => {
  it('computes the exact data URL length', () => {
    const bytes = Buffer.from('hello world');
    const uri = `data:image/png;base64,${bytes.toString('base64')}`;
    assert.equal(dataUriLength(bytes.length, 'image/png'), uri.length);
  });

  it('rejects a file over maxBytes, and one whose data URL would pass the API limit', () => {
    assert.match(imageSizeProblem(101, 'image/png', 100) ?? '', /101 bytes, over the limit of 100 bytes/);
    assert.equal(imageSizeProblem(100, 'image/png', 100), null);
    // Exactly 15 MiB encodes to exactly the limit before the `data:...;base64,` prefix is counted.
    const fifteenMiB = 15 * 1024 * 1024;
    assert.match(imageSizeProblem(fifteenMiB, 'image/jpeg', fifteenMiB) ?? '', new RegExp(`limit of ${MAX_IMAGE_URL_CHARS}`));
  });
});

describe('loadImageAsDataUri', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'respool-image-type-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns a data URL typed by the bytes, not by the extension', async () => {
    const file = path.join(dir, 'really-a-png.jpg');
    await writeFile(file, PNG);
    assert.equal(await loadImageAsDataUri(file, 1024), `data:image/png;base64,${Buffer.from(PNG).toString('base64')}`);
  });

  it('throws a clear error for a non-image, an unsupported format and a too large file', async () => {
    const text = path.join(dir, 'notes.png');
    await writeFile(text, 'just text');
    await assert.rejects(loadImageAsDataUri(text, 1024), /notes\.png: not an image/);
    const bmp = path.join(dir, 'old.bmp');
    await writeFile(bmp, BMP);
    await assert.rejects(loadImageAsDataUri(bmp, 1024), /BMP images are not accepted by the API/);
    await assert.rejects(loadImageAsDataUri(bmp, 10), /over the limit of 10 bytes/);
  });
});
