/**
 * Every default of respool in one place; nothing else in src/ keeps a copy of these values. The
 * job-file reference (docs/job-file.md) lists the same values, and each option that uses one says so
 * with `@default`. This module imports nothing, so any layer may import it.
 */

/** Defaults of the job settings (the fields of a job file, docs/job-file.md). */
export const DEFAULTS = {
  /** The OpenResponses API the requests go to. */
  base_url: 'https://llm.onerouter.pro/v1',
  /**
   * The prompt template of CSV rows and JSONL prompt lines when the job sets no `prompt`: the
   * record's own `prompt` column or field.
   */
  prompt: '{{prompt}}',
  /** The prompt sent with each image of an image folder or glob. */
  image_prompt: 'Describe this image.',
  /** The `detail` of every `input_image` part. */
  detail: 'auto' as const,
  /** Calls in flight per process and run. */
  concurrency: 16,
  /** Tries per item, the first call included. */
  attempts: 6,
  /** One call's time limit. */
  timeout_ms: 120_000,
  /** First wait before a retry; it doubles with each retry up to `max_backoff_ms`. */
  backoff_ms: 1_000,
  max_backoff_ms: 60_000,
  /** Largest image file sent. A base64 data URL grows by 4/3 and the API takes at most 20,971,520 characters. */
  max_image_bytes: 15 * 1024 * 1024,
  /** The folder of a job's results file when it names no `out`: `<out_dir>/<name>.jsonl`. */
  out_dir: 'out',
  /** Structured labeling (docs/labeling.md): calls per item put to a vote; 1 means no vote. */
  samples: 1,
  /** Further calls after an invalid structured answer, per sample. */
  invalid_output_retries: 2,
  /** The `name` of the `text.format` sent, by where its schema came from: `labels` or `schema`. */
  schema_name: { labels: 'labels', schema: 'answer' } as const,
  /** The results file's line format: respool's own lines, or the provider's batch output lines. */
  output_format: 'respool' as const,
  /** Images are sent as they are unless a job asks for processing (docs/nightly.md). */
  resize: 'off' as const,
  /** Identical requests of a run share one call and one paid answer. */
  dedupe: true,
  /** API calls failing in a row (no connection, 5xx) that stop a run; 0 never stops (src/worker/circuit.ts). */
  circuit_breaker: 20,
  /** How CSV and JSONL files are decoded (docs/job-file.md#encoding). */
  encoding: 'utf-8' as const,
  /** Largest request text of one item: the spec's maxLength of a text input (10,485,760 characters); a bigger item could not be sent anyway. */
  max_item_bytes: 10_485_760,
  /**
   * Output tokens reserved, in the rate limits and the cost cap, for a request without
   * `max_output_tokens`. Reserving the model's whole output limit (often 16k-100k tokens) would let
   * only a handful of calls per minute through a TPM budget, while most batch answers
   * (classifications, extractions, short texts) are well under 1k tokens. An answer that runs longer
   * only overdraws the budget until its real usage is settled a moment later, and a run that expects
   * long answers sets `expected_output_tokens` or `max_output_tokens`.
   */
  expected_output_tokens: 1024,
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
  /** The first part of every Redis key; installations sharing one Redis use different prefixes. */
  prefix: 'respool',
  /** Jobs added to BullMQ in one `addBulk` by `enqueue`. */
  addBulkChunk: 500,
  /**
   * The same when the workers share the producer's process (`respool run`): one addBulk of 500 jobs
   * keeps the event loop for 20-60 ms, while the answers of the calls in flight wait; 100 keeps that short.
   */
  sharedAddBulkChunk: 100,
  /**
   * BullMQ's job lock. LLM calls can take minutes; the lock is renewed every lockDuration/2, so this
   * bounds only how long a dead worker's jobs wait before another worker takes them.
   */
  lockDurationMs: 60_000,
  /** How often BullMQ looks for jobs whose worker died. */
  stalledIntervalMs: 30_000,
  /** Times a job may lose its worker before it fails. */
  maxStalledCount: 3,
  /** How long closing the workers waits for the jobs in flight before it abandons them to the stalled check. */
  closeGraceMs: 30_000,
  /** Results-stream entries the collector reads at once. */
  collectBatch: 500,
  /** The collector's longest wait between two looks at an idle results stream (it starts shorter and doubles). */
  collectIdleMs: 250,
  /**
   * How stale a worker's view of a run's state (cancelled, stopped) may be when a job gets its call
   * slot: one read per run and process in this time, instead of one per call.
   */
  runStateTtlMs: 250,
};

/** The HTTP side of the API calls and webhooks. */
/** The provider Batch API client (src/batch/client.ts). */
export const BATCH_CLIENT_DEFAULTS = {
  /** One call of `/files` or `/batches` that is not an upload or a download. */
  timeoutMs: 60_000,
  /** Uploading one batch input file (up to 200 MB). */
  uploadTimeoutMs: 10 * 60_000,
  /** A download of an output or error file fails when no byte arrives for this long. */
  downloadIdleMs: 2 * 60_000,
  /** Longest line of an output or error file read; a longer one fails the download. */
  maxLineBytes: 64 * 1024 * 1024,
};

export const HTTP_DEFAULTS = {
  /** The `User-Agent` header of API calls and `on_complete` webhooks. */
  userAgent: 'respool',
};

/** `respool report` and `respool dashboard`. */
export const REPORT_DEFAULTS = {
  /** The report's breakdowns (`--by`), in order. */
  by: 'model,run,day,status',
  /** How often the dashboard's run list is read again. */
  dashboardRefreshMs: 2_000,
};

