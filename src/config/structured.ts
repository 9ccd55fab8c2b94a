/**
 * Job settings for structured labeling and output shape: `labels`, `schema`, `samples`,
 * `invalid_output_retries` and `output_format`. Kept apart from ./schema.ts, which spreads them in;
 * docs/labeling.md documents each one.
 */
import { z } from 'zod';
import { compileAnswerSchema } from './answer-schema.js';
import { DEFAULTS } from './defaults.js';

/** A field name of the answer object: also a column name after `respool export`. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const labelValues = z
  .array(z.string().min(1, 'a label must not be empty'))
  .min(2, 'give at least two labels')
  .max(500, 'at most 500 labels')
  .refine((v) => new Set(v).size === v.length, 'a label is listed twice');

const labelsObject = z
  .object({
    values: labelValues,
    /** true: the answer is a list of the values that apply (multi-label). */
    multi: z.boolean().default(false),
    /** Name of the answer's field; default `label`, or `labels` when multi. */
    field: z.string().regex(FIELD_NAME, 'must be a letter or _ followed by letters, digits or _ (at most 64)').optional(),
    /** Sent as the field's description, for the model. */
    description: z.string().min(1).optional(),
  })
  .strict();

/** `labels: [a, b]` is short for `labels: {values: [a, b]}`. */
export const labelsSchema = z.preprocess((v) => (Array.isArray(v) ? { values: v } : v), labelsObject);

export const structuredFields = {
  labels: labelsSchema.optional(),
  /** The JSON schema of the answer (an object schema); sent as a strict json_schema text format. */
  schema: z
    .record(z.string(), z.unknown())
    .refine((s) => s.type === 'object', 'must be an object schema (type: object)')
    .optional(),
  /** Name of the json_schema format sent with `labels` or `schema`. */
  schema_name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of a-z, A-Z, 0-9, _ or -').optional(),
  samples: z.number().int().min(1).max(25).default(DEFAULTS.samples),
  invalid_output_retries: z.number().int().min(0).max(10).default(DEFAULTS.invalid_output_retries),
  output_format: z.enum(['respool', 'openai-batch']).default(DEFAULTS.output_format),
};

export type LabelsConfig = z.infer<typeof labelsObject>;
export type OutputFormat = 'respool' | 'openai-batch';

/** Cross-field rules, reported on the field to change. */
export function checkStructured(
  config: { labels?: unknown; schema?: Record<string, unknown> | undefined; schema_name?: unknown; samples?: unknown; request?: { text?: { format?: { type?: string; schema?: Record<string, unknown> } } } },
  ctx: z.RefinementCtx,
): void {
  // Every answer is checked against the schema: one that cannot be compiled is a setting error now,
  // not a failure on every item later.
  const format = config.request?.text?.format;
  for (const [path, schema] of [
    [['schema'], config.schema],
    [['request', 'text', 'format', 'schema'], format?.type === 'json_schema' ? format.schema : undefined],
  ] as const) {
    if (schema === undefined) continue;
    try {
      compileAnswerSchema(schema);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [...path], message: `not a usable JSON schema: ${(err as Error).message}` });
    }
  }
  if (config.labels !== undefined && config.schema !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['schema'], message: 'set either labels or schema, not both' });
  }
  const own = config.labels !== undefined || config.schema !== undefined;
  if (own && config.request?.text?.format !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['request', 'text', 'format'], message: 'labels and schema set the text format themselves; remove request.text.format' });
  }
  const json = own || format?.type === 'json_schema';
  if (!json && typeof config.samples === 'number' && config.samples > 1) {
    ctx.addIssue({ code: 'custom', path: ['samples'], message: 'samples are voted on by label or answer: set labels or schema (or a json_schema request.text.format)' });
  }
  if (!own && config.schema_name !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['schema_name'], message: 'only used with labels or schema' });
  }
}
