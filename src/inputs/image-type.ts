import { readFile, stat } from 'node:fs/promises';

/**
 * Image formats are decided by the file's first bytes, never by its extension: a PNG named `.jpg` is fine,
 * a text file named `.jpg` is not. This module is shared by the readers (which look at a few bytes only)
 * and the worker (which loads the whole file when it builds the request).
 */

/** The formats OpenResponses-compatible APIs accept as `input_image`. */
export type SupportedImageType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

/** How many leading bytes `sniffImageType` and `describeUnsupported` need to decide. */
export const SNIFF_BYTES = 32;

/** `input_image.image_url` has `maxLength: 20971520` in the OpenResponses spec; a data URL must fit in it. */
export const MAX_IMAGE_URL_CHARS = 20_971_520;

export function sniffImageType(bytes: Uint8Array): SupportedImageType | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'image/gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/**
 * Names image formats that are recognisable but not accepted by the API, so a rejection can say
 * "BMP images are not accepted" instead of the misleading "not an image".
 */
export function describeUnsupported(bytes: Uint8Array): string | null {
  if (isBmp(bytes)) return 'BMP';
  if (isTiff(bytes)) return 'TIFF';
  return isoMediaImage(bytes);
}

/**
 * Formats the API does not take that respool converts to PNG or JPEG when a job sets `resize: auto`
 * (src/worker/images/prepare.ts). HEIC decodes only where the image library was built with a decoder
 * for it; otherwise its item ends as a rejected line saying so.
 */
export const CONVERTIBLE_FORMATS: ReadonlySet<string> = new Set(['BMP', 'TIFF', 'AVIF', 'HEIC']);

/** The one-sentence reason used whenever bytes are not a supported image. */
export function unsupportedImageReason(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'the file is empty';
  const known = describeUnsupported(bytes);
  if (known) return `${known} images are not accepted by the API (use PNG, JPEG, GIF or WebP)`;
  return 'not an image: the file does not start like a PNG, JPEG, GIF or WebP file';
}

/** Length of `data:<mime>;base64,<payload>` for a file of `byteLength` bytes, without building it. */
export function dataUriLength(byteLength: number, mime: SupportedImageType): number {
  return `data:${mime};base64,`.length + 4 * Math.ceil(byteLength / 3);
}

/** Why an image of this size cannot be sent, or null when it can. */
export function imageSizeProblem(byteLength: number, mime: SupportedImageType, maxBytes: number): string | null {
  if (byteLength > maxBytes) return `the image is ${byteLength} bytes, over the limit of ${maxBytes} bytes`;
  const urlLength = dataUriLength(byteLength, mime);
  if (urlLength > MAX_IMAGE_URL_CHARS) {
    return `the image is ${byteLength} bytes; as a data URL it would be ${urlLength} characters, over the API's limit of ${MAX_IMAGE_URL_CHARS}`;
  }
  return null;
}

/**
 * Reads an image file and returns it as a data URL. The type comes from the bytes. Throws an Error that
 * names the file when it is not a supported image or is too large.
 */
export async function loadImageAsDataUri(absPath: string, maxBytes: number): Promise<string> {
  const info = await stat(absPath);
  if (!info.isFile()) throw new Error(`${absPath}: not a regular file`);
  // Checked before reading so an oversized file is never loaded into memory.
  if (info.size > maxBytes) throw new Error(`${absPath}: the image is ${info.size} bytes, over the limit of ${maxBytes} bytes`);
  const bytes = await readFile(absPath);
  const mime = sniffImageType(bytes);
  if (!mime) throw new Error(`${absPath}: ${unsupportedImageReason(bytes)}`);
  const sizeProblem = imageSizeProblem(bytes.length, mime, maxBytes);
  if (sizeProblem) throw new Error(`${absPath}: ${sizeProblem}`);
  return `data:${mime};base64,${bytes.toString('base64')}`;
}

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  if (bytes.length < to) return '';
  return String.fromCharCode(...bytes.subarray(from, to));
}

function isBmp(bytes: Uint8Array): boolean {
  // "BM" alone would match ordinary text ("BMW ..."), so also require a known DIB header size at offset 14.
  if (ascii(bytes, 0, 2) !== 'BM' || bytes.length < 18) return false;
  const dibHeaderSize = (bytes[14] as number) | ((bytes[15] as number) << 8) | ((bytes[16] as number) << 16) | ((bytes[17] as number) << 24);
  return [12, 40, 52, 56, 64, 108, 124].includes(dibHeaderSize);
}

function isTiff(bytes: Uint8Array): boolean {
  // Classic TIFF (42) and BigTIFF (43), little- and big-endian.
  return (
    startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])
  );
}

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

/** HEIC and AVIF are ISO media files: a `ftyp` box whose brands say which. */
function isoMediaImage(bytes: Uint8Array): string | null {
  if (ascii(bytes, 4, 8) !== 'ftyp') return null;
  const boxSize = ((bytes[0] as number) << 24) | ((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number);
  const brands = [ascii(bytes, 8, 12)];
  // Compatible brands follow the major brand and minor version; `mif1` files are often AVIF underneath.
  for (let at = 16; at + 4 <= Math.min(boxSize, bytes.length); at += 4) brands.push(ascii(bytes, at, at + 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return 'AVIF';
  if (brands.some((b) => HEIF_BRANDS.has(b))) return 'HEIC';
  return null;
}
