import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { checkStructured, structuredFields } from './structured.js';
import { INPUT_ENCODINGS } from '../inputs/encoding.js';
import { parseDeadline } from './deadline.js';

/** How a run's items are sent (docs/modes.md). */
export const EXECUTION_MODES = ['online', 'flex', 'batch', 'auto'] as const;
/** How items are sent: online (standard tier), flex, batch (provider Batch API) or auto (docs/modes.md). */
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

/** Run names become part of Redis keys, queue names and job ids: no `:`, no spaces, no path tricks. */
export const RUN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** RUN_NAME_PATTERN in words, for messages. */
export const RUN_NAME_RULE = 'must start with a letter or digit and use only A-Z a-z 0-9 . _ - (at most 64)';
/** `-YYYY-MM-DD`, appended to a job's name for its dated (scheduled or incremental) runs. */
export const DATE_SUFFIX_LENGTH = 11;
/** Longest job name that still leaves room for the date within a run name's 64 characters. */
export const MAX_DATED_NAME = 64 - DATE_SUFFIX_LENGTH;

const positiveInt = (max: number) => z.number().int().min(1).max(max);

const jsonSchemaFormat = z.object({
  type: z.literal('json_schema'),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of a-z, A-Z, 0-9, _ or -'),
  description: z.string().optional(),
  schema: z.record(z.string(), z.unknown()),
  strict: z.boolean().optional(),
}).strict();

/** Request parameters sent with every item of a run (OpenResponses `CreateResponseBody` fields). */
export const requestSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    max_output_tokens: z.number().int().min(16, 'the API requires at least 16').optional(),
    reasoning: z
      .object({
        effort: z.enum(['none', 'low', 'medium', 'high', 'xhigh']).optional(),
        summary: z.enum(['concise', 'detailed', 'auto']).optional(),
      })
      .strict()
      .optional(),
    text: z
      .object({
        format: z.union([z.object({ type: z.literal('text') }).strict(), jsonSchemaFormat]).optional(),
        verbosity: z.enum(['low', 'medium', 'high']).optional(),
      })
      .strict()
      .optional(),
    metadata: z
      .record(z.string().max(64), z.string().max(512))
      .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys')
      .optional(),
    store: z.boolean().optional(),
    service_tier: z.enum(['auto', 'default', 'flex', 'priority']).optional(),
  })
  .strict();

/** Provider limits of one API key (per model). Every value must be a positive whole number. */
const limitFields = {
  rpm: z.number().int().positive('must be a positive whole number (requests per minute)').optional(),
  tpm: z.number().int().positive('must be a positive whole number (tokens per minute)').optional(),
  max_in_flight: z.number().int().positive('must be a positive whole number').optional(),
};
export const limitsSchema = z.object(limitFields).strict();

/**
 * Everything a run needs, after defaults, job file, environment and flags are merged.
 * Field names are the job file's (snake_case); docs/job-file.md documents each one.
 */
export const jobConfigSchema = z
  .object({
    name: z.string().regex(RUN_NAME_PATTERN, RUN_NAME_RULE),
    inputs: z.array(z.string().min(1)).min(1, 'give at least one input file, folder or glob'),
    prompt: z.string().min(1).optional(),
    image_prompt: z.string().min(1).default(DEFAULTS.image_prompt),
    instructions: z.string().min(1).optional(),
    /** Optional only when every input is JSONL, whose batch request lines may name their own model. */
    model: z.string().min(1, 'must not be empty').optional(),
    request: requestSchema.default({}),
    detail: z.enum(['auto', 'low', 'high']).default(DEFAULTS.detail),
    id_column: z.string().min(1).optional(),
    concurrency: positiveInt(1000).default(DEFAULTS.concurrency),
    attempts: positiveInt(50).default(DEFAULTS.attempts),
    timeout_ms: z.number().int().min(1000).max(3_600_000).default(DEFAULTS.timeout_ms),
    backoff_ms: z.number().int().min(1).max(600_000).default(DEFAULTS.backoff_ms),
    max_backoff_ms: z.number().int().min(1).max(3_600_000).default(DEFAULTS.max_backoff_ms),
    max_image_bytes: z.number().int().min(1).max(15 * 1024 * 1024).default(DEFAULTS.max_image_bytes),
    /** Folders that image paths inside CSV/JSONL files may point into, besides the file's own folder. */
    image_roots: z.array(z.string().min(1)).default([]),
    /** Image processing before upload (docs/nightly.md#image-processing): `auto` or sent as they are. */
    resize: z.enum(['auto', 'off']).default(DEFAULTS.resize),
    /** Splits a CSV `image` cell into several images. */
    image_separator: z.string().min(1).optional(),
    /** How CSV and JSONL files are decoded; in UTF-8, a line that is not valid UTF-8 is rejected. */
    encoding: z.enum(INPUT_ENCODINGS).default(DEFAULTS.encoding),
    /** Largest request text of one item in bytes (images not counted); a bigger item is rejected. */
    max_item_bytes: z.number().int().min(1).default(DEFAULTS.max_item_bytes),
    /** Skip items whose images were captioned by an earlier run of this job (docs/nightly.md). */
    incremental: z.boolean().default(false),
    /** POSTed the run's summary JSON when a scheduled or incremental run ends. */
    on_complete: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    ...limitFields,
    /** Per-model overrides of rpm / tpm / max_in_flight. */
    limits: z.record(z.string().min(1), limitsSchema).default({}),
    expected_output_tokens: z.number().int().positive().optional(),
    /** Budget cap in USD; docs/cost.md. */
    max_cost: z.number().positive('must be a positive amount of USD').max(1_000_000).optional(),
    /** A price file of the user's, over the bundled prices/*.json; docs/cost.md. */
    prices: z.string().min(1).optional(),
    out: z.string().min(1),
    /** Stop the run after this many API calls in a row could not connect or got a 5xx (0: never); exit code 6. */
    circuit_breaker: z.number().int().min(0).max(1_000_000).default(DEFAULTS.circuit_breaker),
    /** A complete run with failed, incomplete or invalid_output lines exits 0 instead of 5. */
    allow_failures: z.boolean().default(false),
    base_url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .refine((u) => !/^https?:\/\/[^/]*@/.test(u), 'must not contain a user or password (the key comes from OPENRESPONSES_API_KEY)'),
    /** Identical requests of the run share one call (docs/job-file.md#dedupe). */
    dedupe: z.boolean().default(DEFAULTS.dedupe),
    /** How items are sent: online (standard tier), flex, batch (provider Batch API) or auto (docs/modes.md). */
    mode: z.enum(EXECUTION_MODES).default(DEFAULTS.mode),
    /** `auto`: when the run must be done, as an ISO 8601 time with offset or a duration from the start (`6h`, `1h30m`). */
    deadline: z.string().min(1).refine((d) => parseDeadline(d, 0) !== null, 'must be an ISO 8601 time with a UTC offset (2026-12-05T07:00:00+01:00) or a duration such as 90m, 6h, 1d2h').optional(),
    flex_timeout_ms: z.number().int().min(1000).max(3_600_000).default(DEFAULTS.flex_timeout_ms),
    flex_fallback_ms: z.number().int().min(0).max(86_400_000).default(DEFAULTS.flex_fallback_ms),
    batch_max_requests: z.number().int().min(1).max(50_000).default(DEFAULTS.batch_max_requests),
    batch_max_bytes: z.number().int().min(1024).max(200 * 1024 * 1024).default(DEFAULTS.batch_max_bytes),
    batch_poll_ms: z.number().int().min(10).max(3_600_000).default(DEFAULTS.batch_poll_ms),
    batch_max_poll_ms: z.number().int().min(10).max(3_600_000).default(DEFAULTS.batch_max_poll_ms),
    deadline_margin: z.number().min(0).max(0.9).default(DEFAULTS.deadline_margin),
    /** labels, schema, samples, invalid_output_retries, output_format: see ./structured.ts. */
    ...structuredFields,
  })
  .strict()
  .superRefine(checkStructured);

/**
 * `model` may be left out only when every input is JSONL, whose batch request lines name their own
 * model; CSV rows and images are sent with the run's. Checked on the merged settings, before the
 * schema, so that it is listed with every other bad field.
 */
export function missingModelIssues(merged: Record<string, unknown>): z.core.$ZodIssue[] {
  if (merged.model !== undefined || !Array.isArray(merged.inputs)) return [];
  const notJsonl = merged.inputs.filter((input) => typeof input === 'string' && !/\.(jsonl|ndjson)$/i.test(input));
  if (notJsonl.length === 0 && merged.inputs.length > 0) return [];
  const why = notJsonl.length === 0 ? '' : ` (${notJsonl.join(', ')} ${notJsonl.length === 1 ? 'is' : 'are'} not JSONL; only JSONL request lines can name their own model)`;
  return [{ code: 'custom', path: ['model'], message: `is required${why}`, input: undefined }];
}

/** A job after validation, with every default filled in: the settings a run uses (docs/job-file.md). */
export type JobConfig = z.infer<typeof jobConfigSchema>;
export type RequestParams = z.infer<typeof requestSchema>;
