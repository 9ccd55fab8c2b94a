/**
 * What a run asks of every answer when it labels or extracts structured data: the schema the answer
 * must match, the labels (when the schema was built from them), how many samples to take and how
 * often to ask again after an invalid answer. Built once per run from the job settings (pure) and
 * stored with the run settings in Redis.
 */
import { DEFAULTS } from './defaults.js';
import type { JobConfig } from './schema.js';
import { labelSchema, labelField } from './label-schema.js';

export interface LabelPlan {
  values: string[];
  multi: boolean;
  /** The answer's field that holds the label (or the list of labels). */
  field: string;
}

export interface StructuredPlan {
  /** The JSON schema every answer is validated against (the one sent in `text.format`). */
  schema: Record<string, unknown>;
  /** Set when the schema was built from `labels`: the vote counts labels, not whole answers. */
  labels?: LabelPlan;
  /** Calls per item whose answers are put to a vote; 1 means no vote. */
  samples: number;
  /** Further calls after an invalid answer, per sample. */
  invalidRetries: number;
}

/**
 * The plan and the `text.format` to send, from the job's `labels` or `schema`; or, for a job that
 * writes its own json_schema `request.text.format`, a plan that validates against that schema.
 * Null when the run asks for no JSON.
 */
export function structuredPlan(config: Pick<JobConfig, 'labels' | 'schema' | 'schema_name' | 'samples' | 'invalid_output_retries' | 'request'>): {
  plan: StructuredPlan;
  format: Record<string, unknown> | null;
} | null {
  const common = { samples: config.samples, invalidRetries: config.invalid_output_retries };
  if (config.labels) {
    const labels: LabelPlan = { values: config.labels.values, multi: config.labels.multi, field: labelField(config.labels) };
    const schema = labelSchema(config.labels);
    return { plan: { schema, labels, ...common }, format: jsonSchemaFormat(config.schema_name ?? DEFAULTS.schema_name.labels, schema) };
  }
  if (config.schema) {
    return { plan: { schema: config.schema, ...common }, format: jsonSchemaFormat(config.schema_name ?? DEFAULTS.schema_name.schema, config.schema) };
  }
  const own = config.request.text?.format;
  if (own && own.type === 'json_schema') return { plan: { schema: own.schema, ...common }, format: null };
  return null;
}

/** The spec's json_schema text format (flat, not nested as in Chat Completions), always strict. */
function jsonSchemaFormat(name: string, schema: Record<string, unknown>): Record<string, unknown> {
  return { type: 'json_schema', name, schema, strict: true };
}

/**
 * The run-settings fields that come from the structured job fields: the request with the format
 * that `labels` or `schema` asks for, the plan, and the output format.
 */
export function structuredSettings(config: Pick<JobConfig, 'labels' | 'schema' | 'schema_name' | 'samples' | 'invalid_output_retries' | 'request' | 'output_format'>): {
  request: JobConfig['request'];
  structured?: StructuredPlan;
  outputFormat: JobConfig['output_format'];
} {
  const found = structuredPlan(config);
  const request = found?.format ? { ...config.request, text: { ...config.request.text, format: found.format as NonNullable<JobConfig['request']['text']>['format'] } } : config.request;
  return { request, ...(found ? { structured: found.plan } : {}), outputFormat: config.output_format };
}
