/**
 * What the fake server saw of the images in a request: format, pixel size and bytes of each data-URI
 * image, so tests and benchmarks can check what a client really uploaded (for example that it
 * scaled a photo down). Reads only the image header, never decodes the whole image.
 */
import { imageSizeFromDataUri } from '../core/image-size.js';
import { digestInput } from './input.js';

export interface ReceivedImage {
  /** From the data URI, e.g. `image/jpeg`; null for an http(s) URL. */
  mime: string | null;
  width: number | null;
  height: number | null;
  /** Bytes of the image itself (base64 decoded); null for an http(s) URL. */
  bytes: number | null;
  detail: string | null;
}

const DATA_URI = /^data:([^;,]*);base64,/i;

export function receivedImages(request: Record<string, unknown>): ReceivedImage[] {
  return digestInput(request.instructions, request.input).images.map((img) => {
    const m = img.url ? DATA_URI.exec(img.url.slice(0, 256)) : null;
    if (!img.url || !m) return { mime: null, width: null, height: null, bytes: null, detail: img.detail };
    const b64 = img.url.length - m[0].length;
    const padding = img.url.endsWith('==') ? 2 : img.url.endsWith('=') ? 1 : 0;
    const size = imageSizeFromDataUri(img.url);
    return { mime: m[1] || null, width: size?.width ?? null, height: size?.height ?? null, bytes: (b64 / 4) * 3 - padding, detail: img.detail };
  });
}
