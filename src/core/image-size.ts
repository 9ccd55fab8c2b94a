/**
 * Pixel size of PNG, JPEG, GIF and WebP images, read from the header only. For data URIs only the
 * few base64 characters that cover the bytes being read are decoded, so a 20 MB image costs the same
 * as a 1 KB one.
 */

export interface ImageSize {
  width: number;
  height: number;
}

/** Random access to the bytes of an image without decoding all of it. */
interface ByteSource {
  /** Up to `len` bytes starting at `offset` (fewer at the end of the data). */
  read(offset: number, len: number): Buffer;
}

function bufferSource(buf: Uint8Array): ByteSource {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return { read: (offset, len) => b.subarray(offset, offset + len) };
}

function base64Source(b64: string): ByteSource {
  return {
    read(offset, len) {
      // Every 4 base64 characters encode 3 bytes, so decode the aligned window that covers the range.
      const firstGroup = Math.floor(offset / 3);
      const lastGroup = Math.ceil((offset + len) / 3);
      const chunk = b64.slice(firstGroup * 4, lastGroup * 4);
      const bytes = Buffer.from(chunk, 'base64');
      const skip = offset - firstGroup * 3;
      return bytes.subarray(skip, skip + len);
    },
  };
}

const DATA_URI = /^data:[^,]*;base64,/i;

/** Size of the image in a `data:<mime>;base64,...` URI; null for other URLs or unknown formats. */
export function imageSizeFromDataUri(uri: string): ImageSize | null {
  const m = DATA_URI.exec(uri.slice(0, 256));
  if (!m) return null;
  return sizeFrom(base64Source(uri.slice(m[0].length)));
}

export function imageSizeFromBytes(bytes: Uint8Array): ImageSize | null {
  return sizeFrom(bufferSource(bytes));
}

function sizeFrom(src: ByteSource): ImageSize | null {
  const head = src.read(0, 32);
  if (head.length < 10) return null;
  if (isPng(head)) return pngSize(head);
  if (head[0] === 0xff && head[1] === 0xd8) return jpegSize(src);
  if (head.toString('latin1', 0, 6) === 'GIF87a' || head.toString('latin1', 0, 6) === 'GIF89a') {
    return positive(head.readUInt16LE(6), head.readUInt16LE(8));
  }
  if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return webpSize(head);
  return null;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(head: Buffer): boolean {
  return PNG_SIGNATURE.every((b, i) => head[i] === b);
}

function pngSize(head: Buffer): ImageSize | null {
  // The first chunk of a valid PNG is IHDR; width and height follow its type field.
  if (head.length < 24 || head.toString('latin1', 12, 16) !== 'IHDR') return null;
  return positive(head.readUInt32BE(16), head.readUInt32BE(20));
}

function webpSize(head: Buffer): ImageSize | null {
  if (head.length < 30) return null;
  const chunk = head.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    // Lossy: a 3-byte frame tag and the 9d 01 2a start code precede the 14-bit dimensions.
    if (head[23] !== 0x9d || head[24] !== 0x01 || head[25] !== 0x2a) return null;
    return positive(head.readUInt16LE(26) & 0x3fff, head.readUInt16LE(28) & 0x3fff);
  }
  if (chunk === 'VP8L') {
    if (head[20] !== 0x2f) return null;
    const bits = head.readUInt32LE(21);
    return positive((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8X') {
    return positive(head.readUIntLE(24, 3) + 1, head.readUIntLE(27, 3) + 1);
  }
  return null;
}

/** SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegSize(src: ByteSource): ImageSize | null {
  let offset = 2;
  // Segments are walked by their length fields; the bound stops a corrupt file from looping for long.
  for (let segments = 0; segments < 1000; segments++) {
    const hdr = src.read(offset, 9);
    if (hdr.length < 4 || hdr[0] !== 0xff) return null;
    const marker = hdr[1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // markers without a payload
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image or start of scan before any frame
    if (isStartOfFrame(marker)) {
      if (hdr.length < 9) return null;
      return positive(hdr.readUInt16BE(7), hdr.readUInt16BE(5));
    }
    const len = hdr.readUInt16BE(2);
    if (len < 2) return null;
    offset += 2 + len;
  }
  return null;
}

function positive(width: number, height: number): ImageSize | null {
  return width > 0 && height > 0 ? { width, height } : null;
}
