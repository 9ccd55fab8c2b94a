import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { fieldLines } from './field-lines.js';
import { outAliasProblem } from './out-path.js';
import { jobConfigSchema, MAX_DATED_NAME, missingModelIssues, RUN_NAME_PATTERN, type JobConfig } from './schema.js';
import { checkStructured } from './structured.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** One layer of settings and where it came from, so errors can say "(from --concurrency)". */
export interface ConfigLayer {
  origin: string;
  values: Record<string, unknown>;
  /** Line of each field (dotted path) in the job file, so that errors can say "(from job.yaml:4)". */
  lines?: Map<string, number>;
}

/** Flags (camelCase from the CLI parser) mapped to job-file fields. */
const FLAG_TO_FIELD: Record<string, string> = {
  input: 'inputs',
  prompt: 'prompt',
  imagePrompt: 'image_prompt',
  instructions: 'instructions',
  model: 'model',
  out: 'out',
  name: 'name',
  concurrency: 'concurrency',
  attempts: 'attempts',
  detail: 'detail',
  baseUrl: 'base_url',
  idColumn: 'id_column',
  imageRoot: 'image_roots',
  encoding: 'encoding',
  maxItemBytes: 'max_item_bytes',
  timeoutMs: 'timeout_ms',
  backoffMs: 'backoff_ms',
  rpm: 'rpm',
  tpm: 'tpm',
  maxInFlight: 'max_in_flight',
  expectedOutputTokens: 'expected_output_tokens',
  maxCost: 'max_cost',
  prices: 'prices',
  resize: 'resize',
  temperature: 'request.temperature',
  maxOutputTokens: 'request.max_output_tokens',
  reasoningEffort: 'request.reasoning.effort',
  samples: 'samples',
  invalidOutputRetries: 'invalid_output_retries',
  outputFormat: 'output_format',
  dedupe: 'dedupe',
  circuitBreaker: 'circuit_breaker',
  allowFailures: 'allow_failures',
  mode: 'mode',
  deadline: 'deadline',
  flexTimeoutMs: 'flex_timeout_ms',
  flexFallbackMs: 'flex_fallback_ms',
  batchMaxRequests: 'batch_max_requests',
  batchMaxBytes: 'batch_max_bytes',
  batchPollMs: 'batch_poll_ms',
};

const NUMERIC_FIELDS = new Set([
  'rpm',
  'tpm',
  'max_in_flight',
  'expected_output_tokens',
  'max_cost',
  'concurrency',
  'attempts',
  'timeout_ms',
  'backoff_ms',
  'max_backoff_ms',
  'max_image_bytes',
  'max_item_bytes',
  'request.temperature',
  'request.max_output_tokens',
  'samples',
  'invalid_output_retries',
  'circuit_breaker',
  'flex_timeout_ms',
  'flex_fallback_ms',
  'batch_max_requests',
  'batch_max_bytes',
  'batch_poll_ms',
  'batch_max_poll_ms',
  'deadline_margin',
]);

/** Environment variables a deployment can use instead of flags. The API key is not config: see worker. */
const ENV_TO_FIELD: Record<string, string> = {
  OPENRESPONSES_BASE_URL: 'base_url',
  RESPOOL_MODEL: 'model',
  RESPOOL_CONCURRENCY: 'concurrency',
  RESPOOL_ATTEMPTS: 'attempts',
  RESPOOL_TIMEOUT_MS: 'timeout_ms',
  RESPOOL_RPM: 'rpm',
  RESPOOL_TPM: 'tpm',
  RESPOOL_MAX_IN_FLIGHT: 'max_in_flight',
  RESPOOL_MAX_COST: 'max_cost',
  RESPOOL_PRICES: 'prices',
  RESPOOL_MODE: 'mode',
  RESPOOL_DEADLINE: 'deadline',
};

export async function readJobFile(file: string, cwd: string): Promise<ConfigLayer> {
  const abs = path.resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read job file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  let lines: Map<string, number> | undefined;
  try {
    // yaml is loaded only for a YAML job file: every command pays for what it imports at start.
    const yaml = /\.ya?ml$/i.test(file) ? await import('yaml') : null;
    parsed = yaml ? yaml.parse(text) : JSON.parse(text);
    lines = fieldLines(text, yaml);
  } catch (err) {
    throw new ConfigError(`job file ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`job file ${file} must hold an object of settings`);
  }
  const values = { ...(parsed as Record<string, unknown>) };
  // Paths in a job file are relative to the job file, like docker-compose; the rest of respool works
  // with paths relative to the current folder, so rebase them here.
  const base = path.dirname(abs);
  const rebase = (p: unknown) => (typeof p === 'string' ? path.relative(cwd, path.resolve(base, p)) || '.' : p);
  if (typeof values.inputs === 'string') values.inputs = [values.inputs];
  if (Array.isArray(values.inputs)) values.inputs = values.inputs.map(rebase);
  if (values.out !== undefined) values.out = rebase(values.out);
  if (values.prices !== undefined) values.prices = rebase(values.prices);
  if (typeof values.image_roots === 'string') values.image_roots = [values.image_roots];
  if (Array.isArray(values.image_roots)) values.image_roots = values.image_roots.map(rebase);
  if (values.name === undefined) values.name = runNameFromFile(file);
  return { origin: file, values, ...(lines ? { lines } : {}) };
}

export function envLayer(env: NodeJS.ProcessEnv): ConfigLayer {
  const values: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(ENV_TO_FIELD)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(values, field, NUMERIC_FIELDS.has(field) ? toNumber(v) : v);
  }
  return { origin: 'environment', values };
}

export function flagLayer(flags: Record<string, unknown>): ConfigLayer {
  const values: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(FLAG_TO_FIELD)) {
    const v = flags[flag];
    if (v === undefined) continue;
    if ((field === 'inputs' || field === 'image_roots') && Array.isArray(v) && v.length === 0) continue;
    // `--no-dedupe` only turns it off; without the flag, commander's `true` must not override the job file.
    if (field === 'dedupe' && v !== false) continue;
    setPath(values, field, NUMERIC_FIELDS.has(field) && typeof v === 'string' ? toNumber(v) : v);
  }
  return { origin: 'flags', values };
}

/**
 * Merges layers (later wins; `inputs` from a later layer replaces earlier ones) over the defaults and
 * validates. Throws one ConfigError listing every bad field at once (the schema's checks and the ones
 * across fields), each with where it came from, so that a job file is fixed in one go.
 */
export function resolveConfig(layers: ConfigLayer[]): JobConfig {
  const merged: Record<string, unknown> = { base_url: DEFAULTS.base_url };
  const origins = new Map<string, string>();
  for (const layer of layers) {
    deepMerge(merged, layer.values);
    for (const key of leafPaths(layer.values)) origins.set(key, originOf(layer, key));
  }
  if (merged.name === undefined) merged.name = derivedRunName(merged);
  if (merged.out === undefined && typeof merged.name === 'string') merged.out = path.join(DEFAULTS.out_dir, `${merged.name}.jsonl`);
  const result = jobConfigSchema.safeParse(merged);
  const issues: Issue[] = result.success ? [] : [...result.error.issues];
  // zod skips the cross-field checks when a field has the wrong type: run them on what was given.
  if (!result.success) issues.push(...structuredIssues(merged));
  issues.push(...missingModelIssues(merged), ...laterIssues(merged));
  if (issues.length > 0) throw new ConfigError(formatIssues(issues, origins));
  return result.data!;
}

type Issue = { code: string; path: PropertyKey[]; message: string; keys?: string[] };

function originOf(layer: ConfigLayer, key: string): string {
  if (layer.origin === 'flags') return flagNameFor(key);
  const line = layer.lines?.get(key);
  return line === undefined ? layer.origin : `${layer.origin}:${line}`;
}

function structuredIssues(merged: Record<string, unknown>): Issue[] {
  const found: Issue[] = [];
  const ctx = { addIssue: (i: { path?: PropertyKey[]; message?: string }) => found.push({ code: 'custom', path: i.path ?? [], message: i.message ?? '' }) };
  try {
    checkStructured(merged as Parameters<typeof checkStructured>[0], ctx as unknown as z.RefinementCtx);
  } catch {
    // Values of the wrong type the schema has already reported.
  }
  return found;
}

/** Checks that need the merged values as a whole, beyond one field's type and range. */
function laterIssues(merged: Record<string, unknown>): Issue[] {
  const found: Issue[] = [];
  const { out, inputs, name } = merged;
  // Appending results to a file that is being read as input would feed the results back in.
  if (typeof out === 'string' && Array.isArray(inputs)) {
    const alias = outAliasProblem(out, inputs.filter((i): i is string => typeof i === 'string'));
    if (alias) found.push({ code: 'custom', path: ['out'], message: alias });
  }
  if (merged.incremental === true && typeof name === 'string' && name.length > MAX_DATED_NAME) {
    found.push({ code: 'custom', path: ['name'], message: `at most ${MAX_DATED_NAME} characters for an incremental job (its runs add -YYYY-MM-DD)` });
  }
  return found;
}

function formatIssues(issues: Issue[], origins: Map<string, string>): string {
  const lines = issues.map((issue) => {
    // An unknown key is reported on the object that holds it: name the key itself.
    const keys = issue.code === 'unrecognized_keys' ? (issue.keys ?? []) : [];
    const field = [...issue.path, ...(keys.length === 1 ? keys : [])].join('.') || '(job)';
    const origin = origins.get(field) ?? [...origins.entries()].find(([k]) => field.startsWith(`${k}.`) || k.startsWith(`${field}.`))?.[1];
    const message = issue.code === 'invalid_type' && /received undefined/.test(issue.message) ? 'is required' : issue.message;
    return `  - ${field}: ${message}${origin ? ` (from ${origin})` : ''}`;
  });
  // The cross-field checks may have run inside zod too.
  return `invalid job settings:\n${[...new Set(lines)].join('\n')}`;
}

function flagNameFor(field: string): string {
  const flag = Object.entries(FLAG_TO_FIELD).find(([, f]) => f === field)?.[0];
  return flag ? `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : 'flags';
}

function runNameFromFile(file: string): string {
  const base = path.basename(file).replace(/\.(json|ya?ml)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return RUN_NAME_PATTERN.test(base) ? base : derivedRunName({ file });
}

/** Same inputs, prompt and model give the same name, so re-running a crashed command resumes it. */
function derivedRunName(merged: Record<string, unknown>): string {
  const key = JSON.stringify([merged.inputs, merged.prompt, merged.model, merged.file]);
  return `run-${createHash('sha256').update(key).digest('hex').slice(0, 10)}`;
}

function toNumber(v: string): number | string {
  const n = Number(v);
  // Leave non-numbers as strings so validation names the field and shows what was given.
  return v.trim() !== '' && Number.isFinite(n) ? n : v;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) deepMerge(existing, value);
    else target[key] = isPlainObject(value) ? structuredClone(value) : value;
  }
}

function leafPaths(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    isPlainObject(v) && k !== 'metadata' && k !== 'format' && k !== 'limits' && k !== 'schema' && k !== 'labels' ? leafPaths(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
