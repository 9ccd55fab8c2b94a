/**
 * Builds the `ResponseResource` for a validated request. Pure: ids and the clock come from the
 * caller. The answer is deterministic from the input so that tests can predict it, and it is split
 * over two output_text parts after a reasoning item so that clients which read only `output[0]` or
 * only the first part are caught.
 */
import { digestInput } from './input.js';
import { sampleFromSchema } from './json-answer.js';
import type { Magic } from './magic.js';
import { buildUsage, inputTokens, type UsageBody } from './usage.js';

export interface RespondContext {
  /** Unique id with the given prefix, e.g. `resp_` + hex. */
  id(prefix: string): string;
  /** Unix seconds when the request arrived. */
  createdAt: number;
  /** Unix seconds when the answer is sent. */
  completedAt: number;
}

export type OutputContent =
  | { type: 'output_text'; text: string; annotations: never[]; logprobs: never[] }
  | { type: 'refusal'; refusal: string };

export type OutputItem =
  | { type: 'reasoning'; id: string; summary: never[] }
  | { type: 'message'; id: string; status: 'completed' | 'incomplete'; role: 'assistant'; content: OutputContent[] };

export interface ResponseResource {
  id: string;
  object: 'response';
  created_at: number;
  completed_at: number | null;
  status: 'completed' | 'incomplete' | 'failed';
  incomplete_details: { reason: string } | null;
  model: string;
  previous_response_id: string | null;
  instructions: string | null;
  output: OutputItem[];
  error: { code: string; message: string } | null;
  tools: unknown[];
  tool_choice: unknown;
  truncation: string;
  parallel_tool_calls: boolean;
  text: { format: Record<string, unknown>; verbosity?: string };
  top_p: number;
  presence_penalty: number;
  frequency_penalty: number;
  top_logprobs: number;
  temperature: number;
  reasoning: { effort: string | null; summary: string | null } | null;
  usage: UsageBody | null;
  max_output_tokens: number | null;
  max_tool_calls: number | null;
  store: boolean;
  background: boolean;
  service_tier: string;
  metadata: unknown;
  safety_identifier: string | null;
  prompt_cache_key: string | null;
}

export const REFUSAL_TEXT = "I'm sorry, but I can't help with that request.";
export const FAILED_MESSAGE = 'The model failed to generate a response.';
const ECHO_CHARS = 60;

type Body = Record<string, unknown>;

/**
 * What a reply will say, worked out before the reply is built: the rate limiter needs the token
 * cost when the call arrives, and taking it from the same plan the reply uses keeps the cost and
 * the reported `usage` equal.
 */
export interface ResponsePlan {
  /** The answer text as sent (after any `[[incomplete]]` cut); null for `[[failed]]` and refusals. */
  text: string | null;
  usage: UsageBody | null;
}

/** `callIndex`: calls with the same input before this one (only counted for `[[votes]]` and `[[invalid_first]]`). */
export function planResponse(body: Body, magic: Magic, callIndex = 0): ResponsePlan {
  if (magic.failed) return { text: null, usage: null };
  const digest = digestInput(body.instructions, body.input);
  const input = inputTokens(digest);
  if (magic.refuse) return { text: null, usage: buildUsage(input, REFUSAL_TEXT.length) };
  const full = answerText(body, digest.lastUserText, magic, callIndex);
  const text = magic.incomplete ? safeSlice(full, Math.ceil(full.length / 2)) : full;
  return { text, usage: buildUsage(input, text.length) };
}

export function buildResponse(body: Body, magic: Magic, ctx: RespondContext, plan: ResponsePlan = planResponse(body, magic)): ResponseResource {
  const base = echoFields(body);
  const resource = (fields: Pick<ResponseResource, 'status' | 'completed_at' | 'incomplete_details' | 'output' | 'error' | 'usage'>): ResponseResource => ({
    id: ctx.id('resp_'),
    object: 'response',
    created_at: ctx.createdAt,
    ...fields,
    ...base,
  });

  if (magic.failed) {
    return resource({
      status: 'failed',
      completed_at: null,
      incomplete_details: null,
      output: [],
      error: { code: 'server_error', message: FAILED_MESSAGE },
      usage: null,
    });
  }

  const reasoning: OutputItem = { type: 'reasoning', id: ctx.id('rs_'), summary: [] };

  if (magic.refuse) {
    return resource({
      status: 'completed',
      completed_at: ctx.completedAt,
      incomplete_details: null,
      output: [reasoning, message(ctx.id('msg_'), 'completed', [{ type: 'refusal', refusal: REFUSAL_TEXT }])],
      error: null,
      usage: plan.usage,
    });
  }

  const [first, second] = splitInTwo(plan.text ?? '');
  return resource({
    status: magic.incomplete ? 'incomplete' : 'completed',
    completed_at: magic.incomplete ? null : ctx.completedAt,
    incomplete_details: magic.incomplete ? { reason: 'max_output_tokens' } : null,
    output: [
      reasoning,
      message(ctx.id('msg_'), magic.incomplete ? 'incomplete' : 'completed', [outputText(first), outputText(second)]),
    ],
    error: null,
    usage: plan.usage,
  });
}

/** The full answer text for a request, before any `[[incomplete]]` cut. */
export function answerText(body: Body, lastUserText: string, magic: Pick<Magic, 'invalidJson'> & Partial<Magic>, callIndex = 0): string {
  const format = jsonSchemaFormat(body);
  if (format) {
    if (magic.invalidSchema || callIndex < (magic.invalidFirst ?? 0)) return JSON.stringify(offSchema(format.schema));
    const vote = magic.votes ? magic.votes[callIndex % magic.votes.length]! : undefined;
    const forced = vote === undefined ? undefined : vote === '-' ? [] : vote.split('+').map((v) => v.trim());
    const json = JSON.stringify(sampleFromSchema(format.schema ?? {}, { prompt: lastUserText, ...(forced ? { forced } : {}) }));
    // Chatty prose before the JSON is the commonest way real models break structured output.
    return magic.invalidJson ? `Sure! Here is the JSON you asked for: ${json}` : json;
  }
  return `Echo: ${safeSlice(lastUserText, ECHO_CHARS)}`;
}

/**
 * Valid JSON that breaks the schema the way models do: required keys missing and a key the schema
 * does not list. (Against a schema with no required keys that allows extra ones it would pass.)
 */
function offSchema(schema: unknown): Record<string, unknown> {
  const required = isObject(schema) && Array.isArray(schema.required) ? schema.required : [];
  return { note: 'this answer leaves out ' + (required.length > 0 ? required.join(', ') : 'nothing required') };
}

export function jsonSchemaFormat(body: Body): Record<string, unknown> | null {
  const text = body.text;
  if (!isObject(text) || !isObject(text.format) || text.format.type !== 'json_schema') return null;
  return text.format;
}

function message(id: string, status: 'completed' | 'incomplete', content: OutputContent[]): OutputItem {
  return { type: 'message', id, status, role: 'assistant', content };
}

function outputText(text: string): OutputContent {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

/** Splits near the middle without cutting a surrogate pair. */
export function splitInTwo(text: string): [string, string] {
  const first = safeSlice(text, Math.ceil(text.length / 2));
  return [first, text.slice(first.length)];
}

/** The first `n` UTF-16 units, one fewer when that would cut a surrogate pair. */
function safeSlice(text: string, n: number): string {
  if (n >= text.length) return text;
  const code = text.charCodeAt(n - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, n - 1) : text.slice(0, n);
}

/** The request settings a response reports back, with the defaults the fake applies. */
function echoFields(body: Body): Omit<ResponseResource, 'id' | 'object' | 'created_at' | 'status' | 'completed_at' | 'incomplete_details' | 'output' | 'error' | 'usage'> {
  return {
    model: body.model as string,
    previous_response_id: str(body.previous_response_id),
    instructions: str(body.instructions),
    tools: Array.isArray(body.tools) ? body.tools.filter(isObject).map(echoTool) : [],
    tool_choice: echoToolChoice(body.tool_choice),
    truncation: typeof body.truncation === 'string' ? body.truncation : 'disabled',
    parallel_tool_calls: typeof body.parallel_tool_calls === 'boolean' ? body.parallel_tool_calls : true,
    text: echoText(body.text),
    top_p: num(body.top_p, 1),
    presence_penalty: num(body.presence_penalty, 0),
    frequency_penalty: num(body.frequency_penalty, 0),
    top_logprobs: num(body.top_logprobs, 0),
    temperature: num(body.temperature, 1),
    reasoning: isObject(body.reasoning) ? { effort: str(body.reasoning.effort), summary: str(body.reasoning.summary) } : null,
    max_output_tokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : null,
    max_tool_calls: typeof body.max_tool_calls === 'number' ? body.max_tool_calls : null,
    store: typeof body.store === 'boolean' ? body.store : false,
    background: typeof body.background === 'boolean' ? body.background : false,
    service_tier: typeof body.service_tier === 'string' && body.service_tier !== 'auto' ? body.service_tier : 'default',
    metadata: isObject(body.metadata) ? body.metadata : {},
    safety_identifier: str(body.safety_identifier),
    prompt_cache_key: str(body.prompt_cache_key),
  };
}

function echoTool(tool: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'function',
    name: tool.name,
    description: str(tool.description),
    parameters: isObject(tool.parameters) ? tool.parameters : null,
    strict: typeof tool.strict === 'boolean' ? tool.strict : null,
  };
}

function echoToolChoice(choice: unknown): unknown {
  if (typeof choice === 'string') return choice;
  if (isObject(choice) && choice.type === 'allowed_tools') {
    const tools = Array.isArray(choice.tools) ? choice.tools.filter(isObject).map((t) => ({ type: 'function', name: t.name })) : [];
    return { type: 'allowed_tools', tools, mode: typeof choice.mode === 'string' ? choice.mode : 'auto' };
  }
  if (isObject(choice) && choice.type === 'function') return { type: 'function', name: choice.name };
  return 'auto';
}

/**
 * The response-side json_schema format in the spec requires `name`, `description` and `strict`, and
 * types `schema` as null; the echo follows the spec rather than OpenAI, which repeats the schema.
 */
function echoText(text: unknown): ResponseResource['text'] {
  const out: ResponseResource['text'] = { format: { type: 'text' } };
  if (!isObject(text)) return out;
  const format = text.format;
  if (isObject(format) && format.type === 'json_schema') {
    out.format = {
      type: 'json_schema',
      name: typeof format.name === 'string' ? format.name : 'response',
      description: str(format.description),
      schema: null,
      strict: format.strict === true,
    };
  }
  if (typeof text.verbosity === 'string') out.verbosity = text.verbosity;
  return out;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
