import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageSizeFromBytes, imageSizeFromDataUri } from '../../src/core/image-size.js';
import { pngHeader } from '../helpers/png.js';

/** SOI, an APP0 segment (so the walker must skip one), a DQT stub, then SOF0. */
function jpeg(width: number, height: number, sofMarker = 0xc0): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const dqt = Buffer.from([0xff, 0xdb, 0x00, 0x04, 0x00, 0x00]);
  const sof = Buffer.alloc(19);
  sof[0] = 0xff;
  sof[1] = sofMarker;
  sof.writeUInt16BE(17, 2);
  sof[4] = 8;
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  sof[9] = 3;
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, dqt, sof, Buffer.from([0xff, 0xd9])]);
}

function gif(width: number, height: number): Buffer {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}

function webp(chunk: 'VP8 ' | 'VP8L' | 'VP8X', width: number, height: number): Buffer {
  const b = Buffer.alloc(40);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(32, 4);
  b.write('WEBP', 8, 'latin1');
  b.write(chunk, 12, 'latin1');
  b.writeUInt32LE(20, 16);
  if (chunk === 'VP8 ') {
    b[23] = 0x9d;
    b[24] = 0x01;
    b[25] = 0x2a;
    b.writeUInt16LE(width, 26);
    b.writeUInt16LE(height, 28);
  } else if (chunk === 'VP8L') {
    b[20] = 0x2f;
    b.writeUInt32LE(((width - 1) | ((height - 1) << 14)) >>> 0, 21);
  } else {
    b.writeUIntLE(width - 1, 24, 3);
    b.writeUIntLE(height - 1, 27, 3);
  }
  return b;
}

const dataUri = (mime: string, bytes: Buffer): string => `data:${mime};base64,${bytes.toString('base64')}`;

test('PNG size comes from the IHDR chunk', () => {
  assert.deepEqual(imageSizeFromBytes(pngHeader(1024, 768)), { width: 1024, height: 768 });
  assert.deepEqual(imageSizeFromDataUri(dataUri('image/png', pngHeader(3, 70000))), { width: 3, height: 70000 });
});

test('JPEG size comes from the SOF segment after skipping other segments', () => {
  assert.deepEqual(imageSizeFromBytes(jpeg(640, 480)), { width: 640, height: 480 });
  assert.deepEqual(imageSizeFromDataUri(dataUri('image/jpeg', jpeg(4032, 3024, 0xc2))), { width: 4032, height: 3024 });
});

test('JPEG walker skips a large segment without needing its bytes decoded', () => {
  const big = Buffer.alloc(60_000);
  big[0] = 0xff;
  big[1] = 0xe1; // APP1 (EXIF) holding a big thumbnail
  big.writeUInt16BE(big.length - 2, 2);
  const j = jpeg(800, 600);
  const bytes = Buffer.concat([j.subarray(0, 2), big, j.subarray(2)]);
  assert.deepEqual(imageSizeFromDataUri(dataUri('image/jpeg', bytes)), { width: 800, height: 600 });
});

test('GIF and the three WebP variants', () => {
  assert.deepEqual(imageSizeFromBytes(gif(320, 200)), { width: 320, height: 200 });
  assert.deepEqual(imageSizeFromBytes(webp('VP8 ', 500, 400)), { width: 500, height: 400 });
  assert.deepEqual(imageSizeFromBytes(webp('VP8L', 1000, 16383)), { width: 1000, height: 16383 });
  assert.deepEqual(imageSizeFromBytes(webp('VP8X', 5000, 3000)), { width: 5000, height: 3000 });
});

test('the format is read from the bytes, not from the declared MIME type', () => {
  assert.deepEqual(imageSizeFromDataUri(dataUri('image/jpeg', pngHeader(10, 20))), { width: 10, height: 20 });
});

test('unknown or broken data gives null, never throws', () => {
  assert.equal(imageSizeFromDataUri('https://example.com/cat.png'), null);
  assert.equal(imageSizeFromDataUri('data:image/png,notbase64'), null);
  assert.equal(imageSizeFromDataUri(dataUri('image/png', Buffer.from('hello world, not an image'))), null);
  assert.equal(imageSizeFromBytes(pngHeader(1, 1).subarray(0, 20)), null);
  assert.equal(imageSizeFromBytes(pngHeader(0, 10)), null);
  assert.equal(imageSizeFromBytes(jpeg(10, 10).subarray(0, 30)), null);
  assert.equal(imageSizeFromBytes(Buffer.alloc(0)), null);
});
