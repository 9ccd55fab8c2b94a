/**
 * Converts an OpenAI Chat Completions request body (a `/v1/chat/completions` batch line) into an
 * OpenResponses `CreateResponseBody`. Pure: no I/O. What has no equivalent in the OpenResponses spec is
 * refused with a reason instead of being dropped, so that nothing is sent (and paid for) that asks for
 * something else than the line did. docs/job-file.md#jsonl lists every rule.
 */

type JsonObject = Record<string, unknown>;

export type Conversion = { ok: true; body: JsonObject } | { ok: false; reason: string };

/** The spec's `max_output_tokens` minimum: a smaller Chat Completions limit is raised to it. */
export const MIN_OUTPUT_TOKENS = 16;

/** Copied under the same name: same meaning and same type in both APIs. */
const SAME_FIELDS = ['model', 'temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'parallel_tool_calls', 'metadata', 'store', 'service_tier', 'prompt_cache_key', 'safety_identifier'] as const;

/** Converted by the functions below, each into its Responses field(s). */
const CONVERTED_FIELDS = new Set(['messages', 'n', 'logprobs', 'max_tokens', 'max_completion_tokens', 'response_format', 'verbosity', 'tools', 'tool_choice', 'reasoning_effort', 'user', 'modalities']);

/**
 * Dropped: they change nothing the API answers. `stream` and `stream_options` (respool reads one JSON
 * reply), `seed` (a best-effort hint the spec has no field for).
 */
const DROPPED_FIELDS = new Set(['stream', 'stream_options', 'seed']);

/** Fields that cannot be converted, with why. Anything else unknown is refused too, by name. */
const REFUSED_FIELDS: Record<string, string> = {
  stop: 'stop sequences have no equivalent in OpenResponses',
  logit_bias: 'logit_bias has no equivalent in OpenResponses',
  top_logprobs: 'log probabilities are not supported',
  audio: 'audio output is not supported',
  prediction: 'predicted outputs are not supported',
  web_search_options: 'web search options are not supported',
  functions: 'the legacy "functions" field is not supported (use "tools")',
  function_call: 'the legacy "function_call" field is not supported (use "tool_choice")',
};

export function chatCompletionsToResponses(chat: JsonObject): Conversion {
  try {
    return { ok: true, body: convertBody(chat) };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    throw err;
  }
}

/** Thrown inside the conversion to refuse the whole line with one reason. */
class Refused extends Error {}

function refuse(reason: string): never {
  throw new Refused(reason);
}

function convertBody(chat: JsonObject): JsonObject {
  for (const key of Object.keys(chat)) {
    if (REFUSED_FIELDS[key] !== undefined && chat[key] !== null && chat[key] !== false) refuse(REFUSED_FIELDS[key]);
    if (REFUSED_FIELDS[key] === undefined && !isKnownField(key)) {
      refuse(`"${key}" has no equivalent in OpenResponses`);
    }
  }
  checkSingleAnswer(chat);
  const body: JsonObject = {};
  for (const key of SAME_FIELDS) if (chat[key] !== undefined && chat[key] !== null) body[key] = chat[key];
  body['input'] = convertMessages(chat['messages']);
  Object.assign(body, outputLimit(chat), textSettings(chat), reasoning(chat), tools(chat), safetyIdentifier(chat));
  return body;
}

function isKnownField(key: string): boolean {
  return CONVERTED_FIELDS.has(key) || DROPPED_FIELDS.has(key) || (SAME_FIELDS as readonly string[]).includes(key);
}

function checkSingleAnswer(chat: JsonObject): void {
  const n = chat['n'];
  if (n !== undefined && n !== null && n !== 1) refuse(`n must be 1 (one answer per request), got ${JSON.stringify(n)}`);
  if (chat['logprobs'] === true) refuse('log probabilities are not supported');
  const modalities = chat['modalities'];
  if (Array.isArray(modalities) && modalities.some((m) => m !== 'text')) refuse('only text output is supported ("modalities": ["text"])');
}

function outputLimit(chat: JsonObject): JsonObject {
  const limit = chat['max_completion_tokens'] ?? chat['max_tokens'];
  if (limit === undefined || limit === null) return {};
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) refuse(`max_tokens must be a positive whole number, got ${JSON.stringify(limit)}`);
  // The spec refuses less than 16; a smaller limit would make every such line fail at the API.
  return { max_output_tokens: Math.max(limit, MIN_OUTPUT_TOKENS) };
}

/** `response_format` and `verbosity` become `text.format` and `text.verbosity`. */
function textSettings(chat: JsonObject): JsonObject {
  const text: JsonObject = {};
  const format = chat['response_format'];
  if (format !== undefined && format !== null) text['format'] = textFormat(format);
  if (chat['verbosity'] !== undefined && chat['verbosity'] !== null) text['verbosity'] = chat['verbosity'];
  return Object.keys(text).length === 0 ? {} : { text };
}

function textFormat(format: unknown): JsonObject {
  const type = isObject(format) ? format['type'] : undefined;
  if (type === 'text') return { type: 'text' };
  if (type === 'json_object') {
    // The spec has no JSON mode; "any JSON object" is a JSON schema of type object, not strict.
    return { type: 'json_schema', name: 'json_object', schema: { type: 'object' }, strict: false };
  }
  if (type !== 'json_schema' || !isObject(format)) refuse(`response_format of type ${JSON.stringify(type)} is not supported`);
  // Chat Completions nests the schema one level down; Responses has it flat in `text.format`.
  const spec = format['json_schema'];
  if (!isObject(spec) || typeof spec['name'] !== 'string' || !isObject(spec['schema'])) {
    refuse('response_format json_schema needs "json_schema": {"name": ..., "schema": {...}}');
  }
  return {
    type: 'json_schema',
    name: spec['name'],
    schema: spec['schema'],
    ...(typeof spec['description'] === 'string' ? { description: spec['description'] } : {}),
    ...(typeof spec['strict'] === 'boolean' ? { strict: spec['strict'] } : {}),
  };
}

function reasoning(chat: JsonObject): JsonObject {
  const effort = chat['reasoning_effort'];
  if (effort === undefined || effort === null) return {};
  if (typeof effort !== 'string' || !['none', 'low', 'medium', 'high', 'xhigh'].includes(effort)) {
    refuse(`reasoning_effort ${JSON.stringify(effort)} is not one of none, low, medium, high, xhigh`);
  }
  return { reasoning: { effort } };
}

/** The deprecated `user` is the end user's id, which Responses calls `safety_identifier` (at most 64 characters). */
function safetyIdentifier(chat: JsonObject): JsonObject {
  const user = chat['user'];
  if (user === undefined || user === null || chat['safety_identifier'] !== undefined) return {};
  if (typeof user !== 'string' || user.length > 64) refuse('"user" must be a string of at most 64 characters');
  return { safety_identifier: user };
}

function tools(chat: JsonObject): JsonObject {
  const out: JsonObject = {};
  const list = chat['tools'];
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) refuse('"tools" must be an array');
    out['tools'] = list.map(functionTool);
  }
  const choice = chat['tool_choice'];
  if (choice !== undefined && choice !== null) out['tool_choice'] = toolChoice(choice);
  return out;
}

/** `{type: function, function: {name, ...}}` becomes the flat `{type: function, name, ...}`. */
function functionTool(tool: unknown): JsonObject {
  const fn = isObject(tool) && tool['type'] === 'function' ? tool['function'] : undefined;
  if (!isObject(fn)) refuse(`only function tools are supported, got ${JSON.stringify(isObject(tool) ? tool['type'] : tool)}`);
  if (typeof fn['name'] !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(fn['name'])) refuse('a function tool needs a name of 1-64 characters a-z, A-Z, 0-9, _ or -');
  return {
    type: 'function',
    name: fn['name'],
    ...(typeof fn['description'] === 'string' ? { description: fn['description'] } : {}),
    ...(isObject(fn['parameters']) ? { parameters: fn['parameters'] } : {}),
    ...(typeof fn['strict'] === 'boolean' ? { strict: fn['strict'] } : {}),
  };
}

function toolChoice(choice: unknown): unknown {
  if (choice === 'none' || choice === 'auto' || choice === 'required') return choice;
  const fn = isObject(choice) && choice['type'] === 'function' ? choice['function'] : undefined;
  if (isObject(fn) && typeof fn['name'] === 'string') return { type: 'function', name: fn['name'] };
  return refuse(`tool_choice ${JSON.stringify(choice)} is not supported`);
}

function convertMessages(messages: unknown): unknown[] {
  if (!Array.isArray(messages) || messages.length === 0) refuse('"messages" must be a non-empty array');
  return messages.flatMap((message, i) => convertMessage(message, i + 1));
}

/**
 * One chat message as Responses input items (an assistant turn with tool calls gives several). The
 * message `name` is dropped: Responses messages have no author name.
 */
function convertMessage(message: unknown, index: number): JsonObject[] {
  if (!isObject(message)) refuse(`message ${index} must be an object`);
  const role = message['role'];
  const content = message['content'];
  switch (role) {
    case 'system':
    case 'developer':
      return [{ type: 'message', role, content: textOnlyContent(content, index, role) }];
    case 'user':
      return [{ type: 'message', role, content: userContent(content, index) }];
    case 'assistant':
      return assistantItems(message, index);
    case 'tool':
      if (typeof message['tool_call_id'] !== 'string') refuse(`message ${index} (tool) needs a "tool_call_id"`);
      return [{ type: 'function_call_output', call_id: message['tool_call_id'], output: textOf(content, index, 'tool') }];
    default:
      return refuse(`message ${index} has role ${JSON.stringify(role)}, which is not supported`);
  }
}

function textOnlyContent(content: unknown, index: number, role: string): unknown {
  if (typeof content === 'string') return content;
  return partsOf(content, index).map((part) => {
    if (part['type'] !== 'text') refuse(`message ${index} (${role}) may hold only text, got a ${JSON.stringify(part['type'])} part`);
    return { type: 'input_text', text: textField(part, index) };
  });
}

function userContent(content: unknown, index: number): unknown {
  if (typeof content === 'string') return content;
  return partsOf(content, index).map((part) => {
    switch (part['type']) {
      case 'text':
        return { type: 'input_text', text: textField(part, index) };
      case 'image_url':
        return inputImage(part, index);
      case 'file':
        return inputFile(part, index);
      case 'input_audio':
        return refuse(`message ${index} has an audio part; audio input is not supported`);
      default:
        return refuse(`message ${index} has a ${JSON.stringify(part['type'])} part, which is not supported`);
    }
  });
}

function inputImage(part: JsonObject, index: number): JsonObject {
  const image = part['image_url'];
  // `image_url` is `{url, detail}`; some writers put the URL string there directly.
  const url = typeof image === 'string' ? image : isObject(image) ? image['url'] : undefined;
  if (typeof url !== 'string' || url === '') refuse(`message ${index} has an image_url part without a url`);
  const detail = isObject(image) ? image['detail'] : undefined;
  if (detail !== undefined && detail !== 'auto' && detail !== 'low' && detail !== 'high') refuse(`message ${index}: image detail ${JSON.stringify(detail)} is not auto, low or high`);
  return { type: 'input_image', image_url: url, ...(detail === undefined ? {} : { detail }) };
}

/** A file given inline (`file_data`) is sent as `input_file`; a `file_id` points into a file store the spec does not have. */
function inputFile(part: JsonObject, index: number): JsonObject {
  const file = part['file'];
  if (!isObject(file) || typeof file['file_data'] !== 'string') refuse(`message ${index} has a file part without "file_data" (file ids are not supported)`);
  return { type: 'input_file', file_data: file['file_data'], ...(typeof file['filename'] === 'string' ? { filename: file['filename'] } : {}) };
}

/** An assistant turn: its text as `output_text` (a refusal as `refusal`), then one `function_call` per tool call. */
function assistantItems(message: JsonObject, index: number): JsonObject[] {
  const items: JsonObject[] = [];
  const content = message['content'];
  if (typeof content === 'string' && content !== '') {
    items.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: content }] });
  } else if (Array.isArray(content) && content.length > 0) {
    items.push({ type: 'message', role: 'assistant', content: partsOf(content, index).map((part) => assistantPart(part, index)) });
  } else if (typeof message['refusal'] === 'string') {
    items.push({ type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: message['refusal'] }] });
  }
  const calls = message['tool_calls'];
  if (Array.isArray(calls)) items.push(...calls.map((call) => functionCall(call, index)));
  if (items.length === 0) refuse(`message ${index} (assistant) has neither content nor tool calls`);
  return items;
}

function assistantPart(part: JsonObject, index: number): JsonObject {
  if (part['type'] === 'text') return { type: 'output_text', text: textField(part, index) };
  if (part['type'] === 'refusal' && typeof part['refusal'] === 'string') return { type: 'refusal', refusal: part['refusal'] };
  return refuse(`message ${index} (assistant) has a ${JSON.stringify(part['type'])} part, which is not supported`);
}

function functionCall(call: unknown, index: number): JsonObject {
  const fn = isObject(call) && call['type'] === 'function' ? call['function'] : undefined;
  if (!isObject(call) || !isObject(fn) || typeof call['id'] !== 'string' || typeof fn['name'] !== 'string' || typeof fn['arguments'] !== 'string') {
    refuse(`message ${index} has a tool call that is not a function call with id, name and arguments`);
  }
  return { type: 'function_call', call_id: call['id'], name: fn['name'], arguments: fn['arguments'] };
}

/** A tool result's content: a string, or text parts joined. */
function textOf(content: unknown, index: number, role: string): string {
  if (typeof content === 'string') return content;
  return partsOf(content, index)
    .map((part) => {
      if (part['type'] !== 'text') refuse(`message ${index} (${role}) may hold only text`);
      return textField(part, index);
    })
    .join('');
}

function partsOf(content: unknown, index: number): JsonObject[] {
  if (!Array.isArray(content) || content.length === 0) refuse(`message ${index} needs "content": a string or a non-empty array of parts`);
  return content.map((part) => {
    if (!isObject(part)) refuse(`message ${index} has a content part that is not an object`);
    return part;
  });
}

function textField(part: JsonObject, index: number): string {
  if (typeof part['text'] !== 'string') refuse(`message ${index} has a text part without "text"`);
  return part['text'];
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
