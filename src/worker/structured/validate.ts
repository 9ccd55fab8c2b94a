/**
 * Checks one answer against the run's schema: the text must be JSON and the JSON must match. The
 * schema is compiled once per process (src/config/answer-schema.ts).
 */
import { compileAnswerSchema } from '../../config/answer-schema.js';

export type AnswerCheck = { ok: true; value: unknown } | { ok: false; reason: string; value: unknown };

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
