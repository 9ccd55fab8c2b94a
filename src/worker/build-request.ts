/**
 * Turns one item into a `CreateResponseBody` (spec §2). Pure: images arrive already resolved to
 * `image_url` strings (data URIs or http(s) URLs), in the order of the item's `images`.
 */
import type { ItemRequest } from '../core/item.js';
import type { RequestSettings } from './request-settings.js';

/** Run settings copied into prompt/input requests when set, under the same names. */
const OPTIONAL_FIELDS = ['instructions', 'temperature', 'top_p', 'max_output_tokens', 'reasoning', 'text', 'metadata', 'service_tier'] as const;

function imageParts(images: readonly string[], detail: RequestSettings['detail']): Record<string, unknown>[] {
  return images.map((url) => ({ type: 'input_image', image_url: url, detail }));
}

/**
 * OpenAI's Responses API accepts `{role, content}` messages without `type`; the OpenResponses spec
 * requires `type: "message"`. Items written the short way get it added, so such JSONL works as is.
 */
function normaliseItems(input: unknown): unknown {
  if (!Array.isArray(input)) return input;
  return input.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || 'type' in item) return item;
    return 'role' in item && 'content' in item ? { type: 'message', ...item } : item;
  });
}

/**
 * The `input` of an `input` item with its images added. A string becomes one user message (text first,
 * images after, as for prompts); an item list gets one extra user message holding the images.
 */
function withImages(input: unknown, images: readonly string[], detail: RequestSettings['detail']): unknown {
  if (images.length === 0) return input;
  const parts = imageParts(images, detail);
  if (typeof input === 'string') {
    return [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: input }, ...parts] }];
  }
  const imageMessage = { type: 'message', role: 'user', content: parts };
  if (Array.isArray(input)) return [...(input as unknown[]), imageMessage];
  if (input === null || input === undefined) return [imageMessage];
  // A single item object: keep it, in list form, ahead of the images.
  return [input, imageMessage];
}

export function buildRequestBody(settings: RequestSettings, request: ItemRequest, images: string[]): Record<string, unknown> {
  if (request.kind === 'body') {
    // Sent as the line gave it (a Batch-API line is a complete request), with two exceptions:
    // a missing model is filled in, and streaming is turned off because the client reads one JSON reply.
    const body: Record<string, unknown> = { ...request.body };
    if (body['model'] === undefined || body['model'] === null) body['model'] = settings.model;
    if (body['stream'] === true) body['stream'] = false;
    return body;
  }

  const input =
    request.kind === 'prompt'
      ? // Always the array form, with or without images: one shape for every prompt request.
        [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: request.text }, ...imageParts(images, settings.detail)] }]
      : withImages(normaliseItems(request.input), images, settings.detail);

  const body: Record<string, unknown> = { model: settings.model, input };
  for (const key of OPTIONAL_FIELDS) {
    if (settings[key] !== undefined) body[key] = settings[key];
  }
  body['store'] = settings.store ?? false;
  return body;
}

/** True when the request asks for structured JSON output, so the output text should be JSON-parsed. */
export function wantsJsonOutput(settings: RequestSettings, request: ItemRequest): boolean {
  const text = request.kind === 'body' ? request.body['text'] : settings.text;
  const format = typeof text === 'object' && text !== null ? (text as { format?: unknown }).format : undefined;
  const type = typeof format === 'object' && format !== null ? (format as { type?: unknown }).type : undefined;
  // json_object is not a request option in the spec, but an OpenAI-style `body` line may still use it.
  return type === 'json_schema' || type === 'json_object';
}
