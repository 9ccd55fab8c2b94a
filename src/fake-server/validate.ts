/**
 * Request validation against `CreateResponseBody` from the bundled OpenResponses spec, compiled once.
 * The spec uses OpenAPI-only keywords (`discriminator`, `example`, `x-*`); `strict: false` makes Ajv
 * ignore them instead of refusing the schema.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Ajv2020Class from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';

/** Two levels up works both from src/fake-server/*.ts (tsx) and from dist/fake-server/*.js. */
export const SPEC_URL = new URL('../../spec/openresponses.openapi.json', import.meta.url);
const SPEC_ID = 'openresponses';

// Loaded on first use, not at start: Ajv costs ~90 ms to load and most commands never need it.
// It ships CommonJS, so `require` loads it synchronously.
const require = createRequire(import.meta.url);
type Ajv2020 = InstanceType<typeof Ajv2020Class.default>;
function newAjv(opts: ConstructorParameters<typeof Ajv2020Class.default>[0]): Ajv2020 {
  const { default: Ajv } = require('ajv/dist/2020.js') as typeof Ajv2020Class;
  return new Ajv(opts);
}

let cachedSpec: Record<string, unknown> | undefined;
let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

export function loadSpec(): Record<string, unknown> {
  cachedSpec ??= JSON.parse(readFileSync(SPEC_URL, 'utf8')) as Record<string, unknown>;
  return cachedSpec;
}

/** A compiled validator for `components.schemas.<name>` of the spec (cached per name). */
export function specValidator(name: string): ValidateFunction {
  let v = validators.get(name);
  if (!v) {
    if (!ajv) {
      ajv = newAjv({ strict: false, allErrors: false, validateFormats: false });
      ajv.addSchema(loadSpec(), SPEC_ID);
    }
    v = ajv.compile({ $ref: `${SPEC_ID}#/components/schemas/${name}` });
    validators.set(name, v);
  }
  return v;
}

export type BodyCheck = { ok: true } | { ok: false; message: string; param: string | null; code: string };

/**
 * Checks a parsed request body: the spec schema, plus what the prose makes mandatory (`model` and
 * `input`), plus what this fake cannot do (`stream: true`).
 */
export function checkCreateBody(body: unknown, validate: ValidateFunction = specValidator('CreateResponseBody')): BodyCheck {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'The request body must be a JSON object.', param: null, code: 'invalid_value' };
  }
  if (!validate(body)) return describeErrors(validate.errors ?? []);
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0) {
    return { ok: false, message: "Missing required parameter: 'model'.", param: 'model', code: 'missing_required_parameter' };
  }
  if (b.input === undefined || b.input === null) {
    return { ok: false, message: "Missing required parameter: 'input'.", param: 'input', code: 'missing_required_parameter' };
  }
  if (b.stream === true) {
    return { ok: false, message: 'Streaming is not supported by this server; send "stream": false.', param: 'stream', code: 'unsupported_value' };
  }
  return { ok: true };
}

/**
 * Ajv reports every failed branch of a oneOf/anyOf; the deepest path is usually the real mistake
 * (a missing `text` inside a content part rather than "input must match exactly one schema").
 */
function describeErrors(errors: ErrorObject[]): BodyCheck {
  let best: { segments: string[]; error: ErrorObject } | undefined;
  for (const error of errors) {
    const segments = error.instancePath.split('/').slice(1).map(unescapePointer);
    const missing = error.keyword === 'required' ? (error.params as { missingProperty?: string }).missingProperty : undefined;
    if (missing !== undefined) segments.push(missing);
    if (!best || segments.length > best.segments.length) best = { segments, error };
  }
  if (!best) return { ok: false, message: 'The request body is invalid.', param: null, code: 'invalid_value' };
  const param = best.segments.length > 0 ? toParam(best.segments) : null;
  const message =
    best.error.keyword === 'required'
      ? `Missing required parameter: '${param}'.`
      : `Invalid value for '${param ?? 'body'}': ${best.error.message ?? 'is invalid'}.`;
  const code = best.error.keyword === 'required' ? 'missing_required_parameter' : 'invalid_value';
  return { ok: false, message, param, code };
}

/** `input/0/content` -> `input[0].content`, the style OpenAI-compatible APIs use in `param`. */
function toParam(segments: string[]): string {
  let out = '';
  for (const s of segments) {
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}
