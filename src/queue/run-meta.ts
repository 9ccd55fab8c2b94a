import type { Redis } from 'ioredis';
import type { ExecutionMode, JobConfig } from '../config/schema.js';
import { parseDeadline } from '../config/deadline.js';
import { runKeys, runsKey } from './keys.js';
import { structuredSettings, type StructuredPlan } from '../config/structured-plan.js';

/**
 * What every worker needs to know about a run, stored once per run in Redis (not in every job).
 * It holds no secrets: the API key comes from each worker's own environment.
 */
export interface RunSettings {
  run: string;
  /** Empty when the run has none: then every item is a batch request line naming its own model. */
  model: string;
  instructions?: string;
  request: JobConfig['request'];
  detail: JobConfig['detail'];
  baseUrl: string;
  attempts: number;
  timeoutMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  maxImageBytes: number;
  out: string;
  /** Provider limits for the run's key: defaults, and per model. */
  limits: { rpm?: number; tpm?: number; maxInFlight?: number };
  modelLimits: Record<string, { rpm?: number; tpm?: number; maxInFlight?: number }>;
  expectedOutputTokens?: number;
  /** Schema check, re-asks and samples of every answer (docs/labeling.md); absent when no JSON is asked for. */
  structured?: StructuredPlan;
  /** How the collector writes lines; absent (older runs) means `respool`. */
  outputFormat?: JobConfig['output_format'];
  /** Budget cap in USD (`max_cost`). */
  maxCost?: number;
  /** The user's price file (`prices`), read at enqueue so workers elsewhere need not see it. */
  prices?: unknown;
  /** Image processing before upload; absent in runs saved before it existed (= off). */
  resize?: JobConfig['resize'];
  /** False: every item makes its own call, identical or not; absent (older runs) means on. */
  dedupe?: boolean;
  /** API calls failing in a row (no connection, 5xx) that stop the run; 0 never. Absent in older runs (= the default). */
  circuitBreaker?: number;
  /** A complete run with failed, incomplete or invalid_output lines exits 0 instead of 5 (`collect` reads it). */
  allowFailures?: boolean;
  /** How items are sent (docs/modes.md); absent in older runs (= online). */
  mode?: ExecutionMode;
  /** `auto`: epoch ms the run must be done by, fixed when the run is first registered. */
  deadlineAt?: number;
  flexTimeoutMs?: number;
  flexFallbackMs?: number;
  batch?: { maxRequests: number; maxBytes: number; pollMs: number; maxPollMs: number };
  deadlineMargin?: number;
}

/** `cancelled`: `respool cancel` ended it; its waiting items got `cancelled` lines. */
export type RunState = 'running' | 'stopped' | 'cancelled';

/** Why a run was stopped: the API refused the key (exit 3), could not be reached (exit 6), or has no batch endpoint for a batch run (exit 8). */
export type StopKind = 'key_refused' | 'api_unavailable' | 'no_batch_api';

export interface RunStatus {
  settings: RunSettings;
  state: RunState;
  stopReason: string | null;
  /** Set while the run is stopped; runs stopped before kinds existed read as `key_refused`. */
  stopKind: StopKind | null;
  enqueueDone: boolean;
  createdAt: string;
}

export function settingsFromConfig(config: JobConfig, now = Date.now()): RunSettings {
  return {
    run: config.name,
    model: config.model ?? '',
    ...(config.instructions === undefined ? {} : { instructions: config.instructions }),
    detail: config.detail,
    baseUrl: config.base_url,
    attempts: config.attempts,
    timeoutMs: config.timeout_ms,
    backoffMs: config.backoff_ms,
    maxBackoffMs: config.max_backoff_ms,
    maxImageBytes: config.max_image_bytes,
    out: config.out,
    limits: limitsOf(config),
    modelLimits: Object.fromEntries(Object.entries(config.limits).map(([model, l]) => [model, limitsOf(l)])),
    ...(config.expected_output_tokens === undefined ? {} : { expectedOutputTokens: config.expected_output_tokens }),
    // `request`, with the text format that labels / schema ask for; the plan; the output format.
    ...structuredSettings(config),
    ...(config.max_cost === undefined ? {} : { maxCost: config.max_cost }),
    resize: config.resize,
    dedupe: config.dedupe,
    circuitBreaker: config.circuit_breaker,
    allowFailures: config.allow_failures,
    mode: config.mode,
    ...(config.deadline === undefined ? {} : { deadlineAt: parseDeadline(config.deadline, now)! }),
    flexTimeoutMs: config.flex_timeout_ms,
    flexFallbackMs: config.flex_fallback_ms,
    batch: { maxRequests: config.batch_max_requests, maxBytes: config.batch_max_bytes, pollMs: config.batch_poll_ms, maxPollMs: config.batch_max_poll_ms },
    deadlineMargin: config.deadline_margin,
  };
}

function limitsOf(l: { rpm?: number | undefined; tpm?: number | undefined; max_in_flight?: number | undefined }) {
  return {
    ...(l.rpm === undefined ? {} : { rpm: l.rpm }),
    ...(l.tpm === undefined ? {} : { tpm: l.tpm }),
    ...(l.max_in_flight === undefined ? {} : { maxInFlight: l.max_in_flight }),
  };
}

/** The limits that apply to calls for `model`: the per-model entry over the run's defaults. */
export function limitsFor(settings: RunSettings, model: string): { rpm?: number; tpm?: number; maxInFlight?: number } {
  return { ...(settings.limits ?? {}), ...(settings.modelLimits?.[model] ?? {}) };
}

/**
 * The run's settings and state as its meta hash holds them (written only by `RunStore`, run-store.ts),
 * or null when Redis does not know the run.
 */
export async function loadRun(redis: Redis, run: string, prefix?: string): Promise<RunStatus | null> {
  const meta = await redis.hgetall(runKeys(run, prefix).meta);
  if (!meta.settings) return null;
  return {
    settings: JSON.parse(meta.settings) as RunSettings,
    state: toRunState(meta.state),
    stopReason: meta.stop_reason || null,
    stopKind: toRunState(meta.state) === 'stopped' ? toStopKind(meta.stop_kind) : null,
    enqueueDone: meta.enqueue_done === '1',
    createdAt: meta.created_at ?? '',
  };
}

/** Only the state: what a worker checks before each call (`loadRun` also parses the settings). */
export async function loadRunState(redis: Redis, run: string, prefix?: string): Promise<RunState | null> {
  const state = await redis.hget(runKeys(run, prefix).meta, 'state');
  return state === null ? null : toRunState(state);
}

function toStopKind(raw: string | undefined): StopKind {
  return raw === 'api_unavailable' || raw === 'no_batch_api' ? raw : 'key_refused';
}

/** Anything but a stop or a cancel (runs saved before there were states have none) is running. */
export function toRunState(raw: string | undefined): RunState {
  return raw === 'stopped' || raw === 'cancelled' ? raw : 'running';
}

export async function listRuns(redis: Redis, prefix?: string): Promise<string[]> {
  return (await redis.smembers(runsKey(prefix))).sort();
}

/** Whether `run` is one of the runs `listRuns` lists. */
export async function isListedRun(redis: Redis, run: string, prefix?: string): Promise<boolean> {
  return (await redis.sismember(runsKey(prefix), run)) === 1;
}
