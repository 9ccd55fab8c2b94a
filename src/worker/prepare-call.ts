/**
 * Everything that goes into one item's call before it is sent: its images as the API gets them, the
 * request body, the model it asks for and the tokens the rate limiter reserves for it. Needs only the
 * item's request and the run's settings, no BullMQ job: the worker, `respool estimate` and the
 * provider Batch API's request lines all build their requests here, so they send the same body.
 */
import { DEFAULTS } from '../config/defaults.js';
import type { ImageRef, ItemRequest } from '../core/item.js';
import type { RunSettings } from '../queue/run-meta.js';
import { buildRequestBody, wantsJsonOutput } from './build-request.js';
import { imageDataUri } from './images/prepare.js';
import { estimateRequestTokens, type TokenEstimate } from '../cost/token-estimate.js';
import type { RequestSettings } from './request-settings.js';

export interface PreparedCall {
  /** The `CreateResponseBody` to send. */
  body: Record<string, unknown>;
  /** The model the body asks for (a batch request line may name its own), else the run's. */
  model: string;
  /** Tokens the call is expected to take: what the rate limiter reserves and `estimate` counts. */
  tokens: TokenEstimate;
  /** Whether the answer's text is JSON to parse (a json_schema or json_object format). */
  wantsJson: boolean;
}

/**
 * An image of the item could not be read as it was when it was enqueued (it changed or vanished
 * since): that is bad input too, and the item's line is `rejected` with this message.
 */
export class ImageUnreadableError extends Error {
  override name = 'ImageUnreadableError';
}

/** Reads the item's images and builds its call. Throws ImageUnreadableError for an image it cannot send. */
export async function prepareCall(request: ItemRequest, settings: RunSettings): Promise<PreparedCall> {
  let images: string[];
  try {
    images = await Promise.all(imageRefs(request).map((ref) => resolveImage(ref, settings)));
  } catch (err) {
    throw new ImageUnreadableError((err as Error).message, { cause: err });
  }
  const requestSettings = toRequestSettings(settings);
  const body = buildRequestBody(requestSettings, request, images);
  // A flex run asks for the flex tier on every call, batch request lines included (docs/modes.md).
  if (settings.mode === 'flex') body['service_tier'] = 'flex';
  const model = typeof body.model === 'string' ? body.model : settings.model;
  const tokens = estimateRequestTokens(body, settings.expectedOutputTokens === undefined ? {} : { expectedOutputTokens: settings.expectedOutputTokens });
  return { body, model, tokens, wantsJson: wantsJsonOutput(requestSettings, request) };
}

/** Whether the body asks for the flex tier. */
export function asksForFlex(body: Record<string, unknown>): boolean {
  return body['service_tier'] === 'flex';
}

/** The same request at the default tier: what a flex item is sent as once flex refused it for too long. */
export function atDefaultTier(body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, service_tier: 'default' };
}

/** The whole-call timeout: flex calls wait in the provider's queue, so they get their own, longer one. */
export function callTimeoutMs(s: RunSettings): number {
  return s.mode === 'flex' ? (s.flexTimeoutMs ?? DEFAULTS.flex_timeout_ms) : s.timeoutMs;
}

function imageRefs(request: ItemRequest): ImageRef[] {
  return request.kind === 'body' ? [] : request.images;
}

/** What an image of the item is sent as: its URL, or its file prepared as `resize` and `detail` say. */
export function resolveImage(ref: ImageRef, s: RunSettings): Promise<string> {
  if (ref.kind === 'url') return Promise.resolve(ref.url);
  return imageDataUri(ref, { detail: s.detail, resize: s.resize ?? 'off', maxBytes: s.maxImageBytes });
}

/** The run-wide request parameters of the run's settings, under their `CreateResponseBody` names. */
export function toRequestSettings(s: RunSettings): RequestSettings {
  return {
    model: s.model,
    ...(s.instructions === undefined ? {} : { instructions: s.instructions }),
    ...s.request,
    detail: s.detail,
  } as RequestSettings;
}
