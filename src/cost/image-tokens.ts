/**
 * Input tokens of one image, for the rate limiter's estimate of a request's cost.
 *
 * The rule is the one OpenAI publishes for GPT-4o-class vision models (OpenAI vision guide,
 * "Calculating costs"):
 *
 * - `detail: "low"`: a flat 85 tokens, whatever the size.
 * - `detail: "high"` or `"auto"` (and no detail at all, which means auto): the image is scaled to fit
 *   within 2048x2048 keeping its aspect ratio, then scaled so its shortest side is 768px. Neither step
 *   ever scales up. The result is covered by 512px tiles, and the cost is 85 + 170 per tile.
 *
 * "auto" is counted as "high" because the provider picks the level and the estimate must not come out
 * below the real cost. Other providers behind the OpenResponses protocol bill images in their own way;
 * this rule is a stand-in that is exact for OpenAI and of the right magnitude elsewhere, and the real
 * `usage` of each answer corrects the budget afterwards.
 *
 * The fake server (src/fake-server/usage.ts) implements the same rule for its `usage`; the product
 * must not depend on it, so the math lives here too, and a unit test keeps the two in agreement.
 */
import type { ImageSize } from '../core/image-size.js';

export type ImageDetail = 'auto' | 'low' | 'high';

/** The flat cost of a low-detail image, and the base cost of every high-detail one. */
export const BASE_IMAGE_TOKENS = 85;
/** Cost of one 512px tile at high detail. */
export const TILE_IMAGE_TOKENS = 170;

const FIT_SIDE = 2048;
const SHORT_SIDE = 768;
const TILE_SIDE = 512;

/**
 * The most a single image can cost. After scaling, the long side is at most 2048px (4 tiles) and the
 * short side at most 768px (2 tiles), so no image covers more than 4 x 2 = 8 tiles: a 2048x768 (or
 * 768x2048) image reaches that, for 85 + 170 * 8 = 1445 tokens. Used when the size cannot be known
 * (an http(s) URL, a file id, an unreadable header), so the estimate stays on the safe side.
 */
export const MAX_IMAGE_TOKENS =
  BASE_IMAGE_TOKENS + TILE_IMAGE_TOKENS * Math.ceil(FIT_SIDE / TILE_SIDE) * Math.ceil(SHORT_SIDE / TILE_SIDE);

/** Number of 512px tiles a high-detail image of this size is billed for. */
export function imageTiles(width: number, height: number): number {
  let w = width;
  let h = height;
  const longSide = Math.max(w, h);
  if (longSide > FIT_SIDE) {
    // Multiply before dividing so that exact ratios (4096 -> 2048) stay exact; rounding down matches
    // how a resize to whole pixels comes out, and the fake server does the same.
    w = Math.floor((w * FIT_SIDE) / longSide);
    h = Math.floor((h * FIT_SIDE) / longSide);
  }
  const shortSide = Math.min(w, h);
  if (shortSide > SHORT_SIDE) {
    w = Math.floor((w * SHORT_SIDE) / shortSide);
    h = Math.floor((h * SHORT_SIDE) / shortSide);
  }
  // A very thin image can round down to 0px on its short side; it still occupies one tile.
  return Math.ceil(Math.max(w, 1) / TILE_SIDE) * Math.ceil(Math.max(h, 1) / TILE_SIDE);
}

/**
 * Input tokens of one image. `size` is null when the pixel size is unknown; high detail then counts
 * as the most any image can cost ({@link MAX_IMAGE_TOKENS}).
 */
export function imageTokens(detail: ImageDetail | null | undefined, size: ImageSize | null): number {
  if (detail === 'low') return BASE_IMAGE_TOKENS;
  if (!size || !isPixelCount(size.width) || !isPixelCount(size.height)) return MAX_IMAGE_TOKENS;
  return BASE_IMAGE_TOKENS + TILE_IMAGE_TOKENS * imageTiles(size.width, size.height);
}

function isPixelCount(n: number): boolean {
  return Number.isFinite(n) && n > 0;
}
