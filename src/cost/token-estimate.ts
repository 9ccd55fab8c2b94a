/**
 * Token cost of a request, estimated before it is sent, so that a worker can reserve tokens-per-minute
 * budget for it. After the answer the real `usage.total_tokens` replaces the estimate, so the estimate
 * only has to be safe (rather too high than too low) and cheap: it runs for every item, thousands of
 * times per second, so it reads no image beyond its header and never serialises a whole body.
 *
 * Text is estimated without a tokenizer. Providers behind the OpenResponses protocol use different
 * tokenizers, so no single library would be right for all of them, and loading one would cost more
 * than the whole estimate. Instead: one token per 3 bytes of UTF-8. English BPE tokenizers average
 * about 4 characters per token, so this over-estimates ASCII text by about a third; CJK characters take
 * 3 bytes each and come out at about one token per character, which is about what tokenizers give.
 */
import { DEFAULTS } from '../config/defaults.js';
import { imageSizeFromDataUri } from '../core/image-size.js';
import { imageTokens, type ImageDetail } from './image-tokens.js';

export interface TokenEstimate {
  input: number;
  output: number;
  total: number;
}

export interface EstimateOptions {
  /**
   * Output tokens to reserve when the request sets no `max_output_tokens`.
   * @default DEFAULTS.expected_output_tokens (src/config/defaults.ts says why)
   */
  expectedOutputTokens?: number;
}


/** UTF-8 bytes per token of text; see the module comment. */
const BYTES_PER_TOKEN = 3;
/**
 * Framing the model's chat template adds around every message (role markers, separators): OpenAI's
 * cookbook counts 3-4 per message. Applied to every input item, and to `instructions`, which are sent
 * as a message of their own.
 */
const MESSAGE_OVERHEAD = 4;
/** Tokens that prime the reply, once per request (OpenAI's cookbook counts 3). */
const REQUEST_OVERHEAD = 3;
/**
 * A file sent by URL or id cannot be measured without fetching it. 1000 tokens is a few pages of text:
 * a guess, corrected by the real usage after the call.
 */
const FILE_REFERENCE_TOKENS = 1000;

/**
 * UTF-8 length of a string, counted from its UTF-16 code units without allocating a Buffer (this runs
 * on every text of every request). A lone surrogate counts 3 bytes, as the U+FFFD that the encoder
 * writes for it.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair is one code point above U+FFFF: 4 bytes.
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else bytes += 3;
  }
  return bytes;
}

/** Conservative token count of a text: ceil(UTF-8 bytes / 3). */
export function estimateTextTokens(text: string): number {
  return Math.ceil(utf8ByteLength(text) / BYTES_PER_TOKEN);
}

/**
 * Input tokens of the request's `instructions`, `input`, JSON schema and tools, plus output tokens:
 * `max_output_tokens` when it is set (the most the provider may bill), else the expected output.
 * Tolerates any shape: a body that is not a valid request still gets a number, never an exception.
 */
export function estimateRequestTokens(body: Record<string, unknown>, opts: EstimateOptions = {}): TokenEstimate {
  let input = REQUEST_OVERHEAD;

  const instructions = body['instructions'];
  if (typeof instructions === 'string') input += MESSAGE_OVERHEAD + estimateTextTokens(instructions);

  const items = body['input'];
  if (typeof items === 'string') input += MESSAGE_OVERHEAD + estimateTextTokens(items);
  else if (Array.isArray(items)) for (const item of items) input += itemTokens(item);
  else if (isObject(items)) input += itemTokens(items);

  input += schemaTokens(body['text']);
  // Function definitions are rendered into the prompt and billed as input.
  if (Array.isArray(body['tools']) && body['tools'].length > 0) input += jsonTokens(body['tools']);

  const output = outputTokens(body['max_output_tokens'], opts.expectedOutputTokens);
  return { input, output, total: input + output };
}

function outputTokens(maxOutputTokens: unknown, expected: number | undefined): number {
  if (isPositiveNumber(maxOutputTokens)) return Math.ceil(maxOutputTokens);
  if (typeof expected === 'number' && Number.isFinite(expected) && expected >= 0) return Math.ceil(expected);
  return DEFAULTS.expected_output_tokens;
}

/** `text.format.schema` of a structured-output request: the provider shows the schema to the model. */
function schemaTokens(text: unknown): number {
  if (!isObject(text)) return 0;
  const format = text['format'];
  if (!isObject(format) || format['schema'] === undefined || format['schema'] === null) return 0;
  return jsonTokens(format['schema']);
}

function itemTokens(item: unknown): number {
  if (!isObject(item)) return MESSAGE_OVERHEAD + jsonTokens(item);
  const type = item['type'];
  // `{role, content}` without a type is the short form of a message that OpenAI's API accepts.
  if (type === 'message' || (type === undefined && 'role' in item && 'content' in item)) {
    return MESSAGE_OVERHEAD + contentTokens(item['content']);
  }
  if (type === 'function_call') {
    return MESSAGE_OVERHEAD + stringTokens(item['name']) + stringTokens(item['arguments']);
  }
  if (type === 'function_call_output') {
    // The output is a string or, per the spec, a list of text, image and file parts.
    return MESSAGE_OVERHEAD + contentTokens(item['output']);
  }
  // Reasoning items, tool calls and anything newer: the JSON text bounds whatever of it reaches the
  // model.
  return MESSAGE_OVERHEAD + jsonTokens(item);
}

function contentTokens(content: unknown): number {
  if (typeof content === 'string') return estimateTextTokens(content);
  if (Array.isArray(content)) {
    let tokens = 0;
    for (const part of content) tokens += partTokens(part);
    return tokens;
  }
  if (content === undefined || content === null) return 0;
  return partTokens(content);
}

function partTokens(part: unknown): number {
  if (!isObject(part)) return jsonTokens(part);
  switch (part['type']) {
    case 'input_text':
    case 'output_text':
      if (typeof part['text'] === 'string') return estimateTextTokens(part['text']);
      break;
    case 'refusal':
      if (typeof part['refusal'] === 'string') return estimateTextTokens(part['refusal']);
      break;
    case 'input_image':
      return imagePartTokens(part);
    case 'input_file':
      return filePartTokens(part);
    default:
      break;
  }
  return jsonTokens(part);
}

function imagePartTokens(part: Record<string, unknown>): number {
  const url = part['image_url'];
  // Only a data URI can be measured without I/O; its header is decoded, never the whole image. An
  // http(s) URL or a file id gives no size, which counts as the largest image.
  const size = typeof url === 'string' ? imageSizeFromDataUri(url) : null;
  return imageTokens(imageDetail(part['detail']), size);
}

function imageDetail(detail: unknown): ImageDetail | undefined {
  return detail === 'low' || detail === 'high' || detail === 'auto' ? detail : undefined;
}

const DATA_URI_PREFIX = /^data:[^,]*,/i;

/**
 * A file sent inline: its decoded size (3 bytes per 4 base64 characters), counted as text at 3 bytes
 * per token. Binary formats such as PDF do not turn into that much text, so this errs high, as it
 * should. Only the length of the base64 is looked at, never its content.
 */
function filePartTokens(part: Record<string, unknown>): number {
  const name = stringTokens(part['filename']);
  const data = part['file_data'];
  if (typeof data !== 'string' || data.length === 0) return name + FILE_REFERENCE_TOKENS;
  // `file_data` may be a bare base64 string or a data URI (OpenAI accepts both).
  const prefix = data.startsWith('data:') ? DATA_URI_PREFIX.exec(data.slice(0, 256)) : null;
  const base64Chars = data.length - (prefix ? prefix[0].length : 0);
  const bytes = Math.ceil((base64Chars * 3) / 4);
  return name + Math.ceil(bytes / BYTES_PER_TOKEN);
}

function stringTokens(v: unknown): number {
  return typeof v === 'string' ? estimateTextTokens(v) : 0;
}

/** Tokens of a value by the length of its JSON text, which is never shorter than the text in it. */
function jsonTokens(v: unknown): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(v);
  } catch {
    // Cyclic or BigInt values cannot come from a parsed request and could not be sent either.
    return 0;
  }
  return json === undefined ? 0 : estimateTextTokens(json);
}

function isPositiveNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
