/**
 * Photos made by code, for tests, the benchmark and the committed fixtures: a gradient with grain,
 * which compresses like a real photo (a flat colour would make a 12-megapixel JPEG a few kilobytes).
 * Deterministic for a given seed.
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';

export interface PhotoOptions {
  width: number;
  height: number;
  seed?: number;
  /** EXIF orientation tag (1-8) written into a JPEG; the pixels are stored unrotated. */
  orientation?: number;
  format?: 'jpeg' | 'png' | 'tiff' | 'webp';
  quality?: number;
}

/** Raw RGB pixels: a diagonal gradient, a darker top-left quarter (to tell orientations apart), grain. */
export function photoPixels(width: number, height: number, seed = 1): Buffer {
  const data = Buffer.alloc(width * height * 3);
  let s = seed >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // xorshift32: fast and repeatable grain.
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const grain = ((s >>> 0) % 41) - 20;
      const marker = x < width / 2 && y < height / 2 ? 0.5 : 1;
      const i = (y * width + x) * 3;
      data[i] = clamp(((x / width) * 200 + 30) * marker + grain);
      data[i + 1] = clamp(((y / height) * 180 + 40) * marker + grain);
      data[i + 2] = clamp((((x + y) / (width + height)) * 160 + 60) * marker + grain);
    }
  }
  return data;
}

export async function photoBytes(opts: PhotoOptions): Promise<Buffer> {
  const img = sharp(photoPixels(opts.width, opts.height, opts.seed), { raw: { width: opts.width, height: opts.height, channels: 3 } });
  switch (opts.format ?? 'jpeg') {
    case 'png':
      return img.png().toBuffer();
    case 'tiff':
      return img.tiff({ quality: opts.quality ?? 90 }).toBuffer();
    case 'webp':
      return img.webp({ quality: opts.quality ?? 85 }).toBuffer();
    default:
      return img
        .jpeg({ quality: opts.quality ?? 90 })
        .withMetadata(opts.orientation === undefined ? {} : { orientation: opts.orientation })
        .toBuffer();
  }
}

export async function writePhoto(file: string, opts: PhotoOptions): Promise<number> {
  const bytes = await photoBytes(opts);
  await writeFile(file, bytes);
  return bytes.length;
}

/** A 24-bit uncompressed BMP (bottom-up rows), which sharp itself cannot write. */
export function bmpBytes(width: number, height: number, seed = 1): Buffer {
  const rgb = photoPixels(width, height, seed);
  const stride = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + stride * height;
  const buf = Buffer.alloc(size);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(size, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      buf[row + x * 3] = rgb[i + 2]!;
      buf[row + x * 3 + 1] = rgb[i + 1]!;
      buf[row + x * 3 + 2] = rgb[i]!;
    }
  }
  return buf;
}

function clamp(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}
