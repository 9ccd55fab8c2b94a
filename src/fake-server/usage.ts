/**
 * Token counting for the fake's `usage`. Text uses the common 4-characters-per-token estimate;
 * images follow OpenAI's published tile rule so that cost estimates in respool can be checked
 * against numbers that behave like a real vision model's.
 */
import type { ImageInput, InputDigest } from './input.js';
import { imageSizeFromDataUri, type ImageSize } from '../core/image-size.js';

export const REASONING_TOKENS = 8;
export const LOW_DETAIL_TOKENS = 85;
export const TILE_TOKENS = 170;
/** What a 1024x1024 image costs at high detail; used when the size cannot be read. */
export const UNKNOWN_IMAGE_TOKENS = 765;

export interface UsageBody {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
  /** Only with the `usageCost` option: what a self-billing router reports, in USD. */
  cost?: number;
}

/** `usage.cost` as a router would report it for these prices (USD per 1M tokens). */
export function routerCost(usage: UsageBody, prices: { inputPerMillion: number; outputPerMillion: number }): number {
  return (usage.input_tokens * prices.inputPerMillion + usage.output_tokens * prices.outputPerMillion) / 1_000_000;
}

export function textTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** 512px tiles of an image after it is scaled to fit 2048x2048 and then its short side to 768. */
export function imageTiles(width: number, height: number): number {
  let w = width;
  let h = height;
  const longSide = Math.max(w, h);
  if (longSide > 2048) {
    // Integer arithmetic first, so exact ratios (e.g. 4096 -> 2048) stay exact.
    w = Math.floor((w * 2048) / longSide);
    h = Math.floor((h * 2048) / longSide);
  }
  const shortSide = Math.min(w, h);
  if (shortSide > 768) {
    w = Math.floor((w * 768) / shortSide);
    h = Math.floor((h * 768) / shortSide);
  }
  return Math.ceil(Math.max(w, 1) / 512) * Math.ceil(Math.max(h, 1) / 512);
}

export function imageTokens(detail: string | null, size: ImageSize | null): number {
  if (detail === 'low') return LOW_DETAIL_TOKENS;
  if (!size) return UNKNOWN_IMAGE_TOKENS;
  return LOW_DETAIL_TOKENS + TILE_TOKENS * imageTiles(size.width, size.height);
}

export function imageInputTokens(image: ImageInput): number {
  if (image.detail === 'low') return LOW_DETAIL_TOKENS;
  const size = image.url ? imageSizeFromDataUri(image.url) : null;
  return imageTokens(image.detail, size);
}

export function inputTokens(digest: InputDigest): number {
  let tokens = Math.max(1, textTokens(digest.chars));
  for (const image of digest.images) tokens += imageInputTokens(image);
  return tokens;
}

export function buildUsage(input: number, answerChars: number): UsageBody {
  const output = textTokens(answerChars) + REASONING_TOKENS;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: REASONING_TOKENS },
    total_tokens: input + output,
  };
}
