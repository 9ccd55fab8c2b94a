/**
 * The largest pixel size a `detail` level can use, per the provider's published vision rules (the
 * same rules src/cost/image-tokens.ts bills by). Sending more pixels costs bandwidth and
 * upload time and buys nothing: the provider scales the image down to this size itself.
 *
 * - `low`: the model sees a 512x512 version, so the image is fitted within 512x512.
 * - `high`, and `auto` (the provider may pick high): fitted within 2048x2048, then scaled so that
 *   its shortest side is 768px.
 *
 * Neither step ever scales up. Pure.
 */
import type { ImageSize } from '../../core/image-size.js';

export type Detail = 'auto' | 'low' | 'high';

const LOW_SIDE = 512;
const FIT_SIDE = 2048;
const SHORT_SIDE = 768;

export function targetSize(size: ImageSize, detail: Detail): ImageSize {
  if (detail === 'low') return scaleBy(size, Math.min(1, LOW_SIDE / size.width, LOW_SIDE / size.height));
  // Rounded down at each step like image-tokens.ts, so the estimate of the sent image is exact.
  const fitted = scaleBy(size, Math.min(1, FIT_SIDE / size.width, FIT_SIDE / size.height));
  return scaleBy(fitted, Math.min(1, SHORT_SIDE / Math.min(fitted.width, fitted.height)));
}

/** True when the image is larger than what `detail` can use. */
export function needsDownscale(size: ImageSize, detail: Detail): boolean {
  const t = targetSize(size, detail);
  return t.width < size.width || t.height < size.height;
}

function scaleBy(size: ImageSize, factor: number): ImageSize {
  if (factor >= 1) return { width: size.width, height: size.height };
  return { width: Math.max(1, Math.floor(size.width * factor)), height: Math.max(1, Math.floor(size.height * factor)) };
}

/**
 * Width and height as displayed: EXIF orientations 5 to 8 turn the stored image by 90 degrees, so
 * a 4000x3000 photo taken upright is 3000x4000 once oriented.
 */
export function orientedSize(size: ImageSize, orientation: number | undefined): ImageSize {
  return orientation !== undefined && orientation >= 5 && orientation <= 8 ? { width: size.height, height: size.width } : size;
}
