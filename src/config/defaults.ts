/** Every default in one place. The job-file reference (docs/job-file.md) lists the same values. */
export const DEFAULTS = {
  base_url: 'https://llm.onerouter.pro/v1',
  image_prompt: 'Describe this image.',
  detail: 'auto' as const,
  concurrency: 16,
  attempts: 6,
  timeout_ms: 120_000,
  backoff_ms: 1_000,
  max_backoff_ms: 60_000,
  // A base64 data URL grows by 4/3 and the API takes at most 20,971,520 characters.
  max_image_bytes: 15 * 1024 * 1024,
  out_dir: 'out',
  // Structured labeling (docs/labeling.md).
  samples: 1,
  invalid_output_retries: 2,
  output_format: 'respool' as const,
  /** Images are sent as they are unless a job asks for processing (docs/nightly.md). */
  resize: 'off' as const,
  /** Identical requests of a run share one call and one paid answer. */
  dedupe: true,
  /** API calls failing in a row (no connection, 5xx) that stop a run; 0 never stops (src/worker/circuit.ts). */
  circuit_breaker: 20,
  /** How CSV and JSONL files are decoded (docs/job-file.md#encoding). */
  encoding: 'utf-8' as const,
  // The spec's maxLength of a text input (10,485,760 characters): a bigger item could not be sent anyway.
  max_item_bytes: 10_485_760,
  /** How items are sent (docs/modes.md): `online` at the standard tier, `flex`, `batch` or `auto`. */
  mode: 'online' as const,
  /** Flex calls queue at the provider's side and can take minutes: their own, longer timeout. */
  flex_timeout_ms: 900_000,
  /** A flex item still refused "resource unavailable" after this long is sent at the default tier. */
  flex_fallback_ms: 600_000,
  /** The provider's limits of one batch input file (OpenAI: 50,000 requests, 200 MB). */
  batch_max_requests: 50_000,
  batch_max_bytes: 200 * 1024 * 1024,
  /** First wait between two looks at a provider batch; it grows up to batch_max_poll_ms. */
  batch_poll_ms: 10_000,
  batch_max_poll_ms: 300_000,
  /** `auto`: the share of the time left kept in reserve when judging whether online still makes the deadline. */
  deadline_margin: 0.2,
};

/** Scheduled runs and image processing (docs/nightly.md). */
export const NIGHTLY_DEFAULTS = {
  /** Time zone of a schedule's cron pattern and of the `{date}` in its run names and files. */
  tz: 'UTC',
  /** The webhook POST gives up after this long; the run itself is already written. */
  webhookTimeoutMs: 10_000,
  /** JPEG quality of re-encoded photos. */
  jpegQuality: 85,
  /** Scheduled runs still working when their job's lock is lost are picked up by another worker. */
  scheduledJobAttempts: 3,
};

/** Redis and BullMQ settings that are not part of a job. */
export const QUEUE_DEFAULTS = {
  prefix: 'respool',
  addBulkChunk: 500,
  // When the workers share the producer's process (`respool run`): one addBulk of 500 jobs keeps the
  // event loop for 20-60 ms, while the answers of the calls in flight wait; 100 keeps that short.
  sharedAddBulkChunk: 100,
  // LLM calls can take minutes; the lock is renewed every lockDuration/2, so this bounds only how
  // long a dead worker's jobs wait before another worker takes them.
  lockDurationMs: 60_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 3,
  collectBatch: 500,
  // How stale a worker's view of a run's state (cancelled, stopped) may be when a job gets its call
  // slot: one read per run and process in this time, instead of one per call.
  runStateTtlMs: 250,
};

/**
 * Lock and stalled-check timing can be tuned per deployment (RESPOOL_LOCK_DURATION_MS,
 * RESPOOL_STALLED_INTERVAL_MS): shorter means a dead worker's items come back sooner, at the price
 * of more Redis traffic. Invalid values are ignored in favour of the defaults.
 */
export function queueTiming(env: NodeJS.ProcessEnv): { lockDurationMs: number; stalledIntervalMs: number } {
  const read = (name: string, fallback: number) => {
    const n = Number(env[name]);
    return Number.isInteger(n) && n >= 100 ? n : fallback;
  };
  return {
    lockDurationMs: read('RESPOOL_LOCK_DURATION_MS', QUEUE_DEFAULTS.lockDurationMs),
    stalledIntervalMs: read('RESPOOL_STALLED_INTERVAL_MS', QUEUE_DEFAULTS.stalledIntervalMs),
  };
}
