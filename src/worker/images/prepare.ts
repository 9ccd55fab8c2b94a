/**
 * Turns an image file into what is sent: a data URL. With `resize: off` the file goes as it is (the
 * reader already refused formats the API does not take). With `resize: auto` every image is decoded
 * and encoded again, which is what lets respool
 * - apply the EXIF orientation (a phone photo taken upright arrives upright),
 * - strip metadata (EXIF, GPS position, camera serial numbers, ICC profiles after conversion to sRGB),
 * - convert TIFF, BMP, AVIF and HEIC (when the image library can decode it) to PNG or JPEG,
 * - and scale the image down to what its `detail` can use (./target-size.ts).
 *
 * Runs in the worker, when the item is sent: jobs hold paths, never bytes. The file is opened without
 * following a link and sent only if it is the file enqueued (./read-enqueued.ts).
 */
import type SharpModule from 'sharp';
import type { Metadata, Sharp } from 'sharp';
import { NIGHTLY_DEFAULTS } from '../../config/defaults.js';
import type { ImageRef } from '../../core/item.js';
import { CONVERTIBLE_FORMATS, describeUnsupported, imageSizeProblem, MAX_IMAGE_URL_CHARS, sniffImageType, unsupportedImageReason } from '../../inputs/image-type.js';
import { decodeBmp } from './bmp.js';
import { readEnqueuedImage } from './read-enqueued.js';
import { orientedSize, targetSize, type Detail } from './target-size.js';

export interface ImageOptions {
  detail: Detail;
  resize: 'auto' | 'off';
  maxBytes: number;
}

export interface PreparedImage {
  url: string;
  mime: string;
  width: number;
  height: number;
  /** Bytes of the encoded image that is sent (before base64). */
  bytes: number;
}

export type FileImage = Extract<ImageRef, { kind: 'file' }>;

export async function imageDataUri(ref: FileImage, opts: ImageOptions): Promise<string> {
  if (opts.resize === 'off') return asSent(ref.path, await readEnqueuedImage(ref, opts.maxBytes), opts.maxBytes);
  return (await prepareImage(ref, opts)).url;
}

/** Reads, orients, strips, converts and scales one image. Errors name the file. */
export async function prepareImage(ref: FileImage, opts: ImageOptions): Promise<PreparedImage> {
  const bytes = await readEnqueuedImage(ref, opts.maxBytes);
  try {
    return await processBytes(bytes, opts.detail);
  } catch (err) {
    throw new Error(`${ref.path}: ${(err as Error).message}`);
  }
}

/** `resize: off`: the file's own bytes as a data URL, its type taken from the bytes. */
function asSent(absPath: string, bytes: Buffer, maxBytes: number): string {
  const mime = sniffImageType(bytes);
  if (!mime) throw new Error(`${absPath}: ${unsupportedImageReason(bytes)}`);
  const sizeProblem = imageSizeProblem(bytes.length, mime, maxBytes);
  if (sizeProblem) throw new Error(`${absPath}: ${sizeProblem}`);
  return `data:${mime};base64,${bytes.toString('base64')}`;
}

// sharp (and libvips) load on the first image to process: runs that send images as they are, and
// every other command, never pay for it.
let sharpModule: Promise<typeof SharpModule> | null = null;
function loadSharp(): Promise<typeof SharpModule> {
  sharpModule ??= import('sharp').then((m) => m.default);
  return sharpModule;
}

export async function processBytes(bytes: Buffer, detail: Detail): Promise<PreparedImage> {
  const sharp = await loadSharp();
  const kind = sniffImageType(bytes) ?? describeUnsupported(bytes);
  if (kind === null || (!kind.startsWith('image/') && !CONVERTIBLE_FORMATS.has(kind))) throw new Error(unsupportedImageReason(bytes));
  let image: Sharp;
  if (kind === 'BMP') {
    const raw = decodeBmp(bytes);
    image = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  } else {
    image = sharp(bytes, { failOn: 'error' });
  }
  let meta: Metadata;
  try {
    meta = await image.metadata();
  } catch (err) {
    throw new Error(`cannot decode the ${kind.replace(/^image\//, '').toUpperCase()} image: ${(err as Error).message}`);
  }
  if (!meta.width || !meta.height) throw new Error('the image has no size');
  const shown = orientedSize({ width: meta.width, height: meta.height }, meta.orientation);
  const target = targetSize(shown, detail);
  // rotate() without an angle applies the EXIF orientation, before the resize; metadata is dropped
  // because withMetadata() is not called.
  let pipeline = image.rotate();
  if (target.width < shown.width || target.height < shown.height) {
    pipeline = pipeline.resize(target.width, target.height, { fit: 'fill', kernel: 'lanczos3' });
  }
  const out = outputFormat(kind, meta.hasAlpha ?? false);
  pipeline = out === 'image/png' ? pipeline.png() : out === 'image/webp' ? pipeline.webp({ quality: NIGHTLY_DEFAULTS.jpegQuality }) : pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: NIGHTLY_DEFAULTS.jpegQuality });
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  const url = `data:${out};base64,${data.toString('base64')}`;
  if (url.length > MAX_IMAGE_URL_CHARS) {
    throw new Error(`after processing, the image is ${data.length} bytes; as a data URL it would be ${url.length} characters, over the API's limit of ${MAX_IMAGE_URL_CHARS}`);
  }
  return { url, mime: out, width: info.width, height: info.height, bytes: data.length };
}

/**
 * Photos stay JPEG, PNG stays PNG (often text or diagrams, which JPEG blurs), WebP stays WebP. GIF
 * becomes PNG of its first frame, as vision models read only that one. Converted formats become PNG
 * when they have transparency, else JPEG.
 */
function outputFormat(kind: string, hasAlpha: boolean): 'image/jpeg' | 'image/png' | 'image/webp' {
  if (kind === 'image/jpeg') return 'image/jpeg';
  if (kind === 'image/png' || kind === 'image/gif') return 'image/png';
  if (kind === 'image/webp') return 'image/webp';
  return hasAlpha ? 'image/png' : 'image/jpeg';
}
