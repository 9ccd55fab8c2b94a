/**
 * Checks one answer against the run's schema: the text must be JSON and the JSON must match. Each
 * schema is compiled once per process (Ajv, JSON Schema 2020-12, unknown keywords ignored).
 */
import { createRequire } from 'node:module';
import type Ajv2020Class from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

// Loaded on first use, not at start: Ajv costs ~90 ms to load and most commands never need it.
// It ships CommonJS, so `require` loads it synchronously.
const require = createRequire(import.meta.url);
type Ajv2020 = InstanceType<typeof Ajv2020Class.default>;
function newAjv(opts: ConstructorParameters<typeof Ajv2020Class.default>[0]): Ajv2020 {
  const { default: Ajv } = require('ajv/dist/2020.js') as typeof Ajv2020Class;
  return new Ajv(opts);
}

export type AnswerCheck = { ok: true; value: unknown } | { ok: false; reason: string; value: unknown };

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

/** Throws with Ajv's message when the schema itself is not a usable JSON schema. */
export function compileAnswerSchema(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (!v) {
    ajv ??= newAjv({ strict: false, allErrors: true, validateFormats: false });
    v = ajv.compile(schema);
    // A run has one schema; the cap only keeps a long-lived worker serving many runs bounded.
    if (compiled.size >= 100) compiled.clear();
    compiled.set(key, v);
  }
  return v;
}

/** The reason is what an `invalid_output` line says; `value` is the parsed JSON, or null when it did not parse. */
export function checkAnswer(text: string | null, refusal: string | null, schema: Record<string, unknown>): AnswerCheck {
  if (text === null) return { ok: false, reason: refusal !== null ? 'the model refused; no output text' : 'no output text', value: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `output text is not valid JSON (${err instanceof Error ? err.message : String(err)})`, value: null };
  }
  const validate = compileAnswerSchema(schema);
  if (validate(value)) return { ok: true, value };
  const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${allowed(e.params)}`);
  return { ok: false, reason: `the answer does not match the schema: ${errors.join('; ')}`, value };
}

function allowed(params: Record<string, unknown>): string {
  return Array.isArray(params.allowedValues) ? ` (${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')})` : '';
}
