/**
 * A small BMP decoder: the image processor's decoder (sharp/libvips) reads no BMP, and the API takes
 * none, so BMP files are decoded here into raw pixels and re-encoded as PNG. It covers what scanners
 * and old software write: uncompressed 24- and 32-bit pixels, 1-, 4- and 8-bit palettes, and 16/32-bit
 * BI_BITFIELDS with the usual masks; bottom-up and top-down rows. Pure.
 */

export interface RawImage {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA) bytes per pixel, rows top to bottom. */
  channels: 3 | 4;
  data: Buffer;
}

export class BmpError extends Error {
  override name = 'BmpError';
}

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;
/** Far beyond any photo; stops a corrupt header from asking for gigabytes. */
const MAX_PIXELS = 100_000_000;

export function decodeBmp(buf: Buffer): RawImage {
  if (buf.length < 26 || buf.toString('latin1', 0, 2) !== 'BM') throw new BmpError('not a BMP file');
  const dataOffset = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  if (headerSize < 40) throw new BmpError(`BMP header of ${headerSize} bytes (OS/2 bitmaps) is not supported`);
  if (buf.length < 14 + headerSize) throw new BmpError('the BMP header is cut short');
  const width = buf.readInt32LE(18);
  const rawHeight = buf.readInt32LE(22);
  const bpp = buf.readUInt16LE(28);
  const compression = buf.readUInt32LE(30);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0 || width * height > MAX_PIXELS) throw new BmpError(`BMP size ${width}x${height} is not supported`);

  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > buf.length) throw new BmpError('the BMP pixel data is cut short');

  let pixel: (row: Buffer, x: number, out: Buffer, at: number) => void;
  let channels: 3 | 4 = 3;
  if (compression === BI_RGB && (bpp === 24 || bpp === 32)) {
    const step = bpp / 8;
    pixel = (row, x, out, at) => {
      out[at] = row[x * step + 2]!;
      out[at + 1] = row[x * step + 1]!;
      out[at + 2] = row[x * step]!;
    };
  } else if (compression === BI_RGB && (bpp === 1 || bpp === 4 || bpp === 8)) {
    const colours = buf.readUInt32LE(46) || 1 << bpp;
    const paletteAt = 14 + headerSize;
    const palette = (i: number): number => paletteAt + 4 * Math.min(i, colours - 1);
    const perByte = 8 / bpp;
    const mask = (1 << bpp) - 1;
    pixel = (row, x, out, at) => {
      const byte = row[Math.floor(x / perByte)]!;
      const index = (byte >> ((perByte - 1 - (x % perByte)) * bpp)) & mask;
      const p = palette(index);
      out[at] = buf[p + 2] ?? 0;
      out[at + 1] = buf[p + 1] ?? 0;
      out[at + 2] = buf[p] ?? 0;
    };
  } else if ((compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) && (bpp === 16 || bpp === 32)) {
    const masks = [buf.readUInt32LE(54), buf.readUInt32LE(58), buf.readUInt32LE(62)];
    const alphaMask = headerSize >= 56 || compression === BI_ALPHABITFIELDS ? buf.readUInt32LE(66) : 0;
    if (alphaMask !== 0) channels = 4;
    const fields = [...masks, alphaMask].map(maskField);
    const step = bpp / 8;
    pixel = (row, x, out, at) => {
      const v = step === 4 ? row.readUInt32LE(x * 4) : row.readUInt16LE(x * 2);
      for (let c = 0; c < channels; c++) out[at + c] = fields[c]!(v);
    };
  } else {
    throw new BmpError(`BMP with ${bpp} bits per pixel and compression ${compression} is not supported (save it as PNG)`);
  }

  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    const srcRow = topDown ? y : height - 1 - y;
    const row = buf.subarray(dataOffset + srcRow * stride, dataOffset + (srcRow + 1) * stride);
    for (let x = 0; x < width; x++) pixel(row, x, data, (y * width + x) * channels);
  }
  return { width, height, channels, data };
}

/** Extracts one channel under a bit mask and scales it to 0..255. */
function maskField(mask: number): (v: number) => number {
  if (mask === 0) return () => 255;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return (v) => Math.round((((v & mask) >>> shift) * 255) / max);
}
