import type { ReceivedImage } from './received-images.js';

/** Public option and result shapes of the fake OpenResponses server. */

export type FaultKind = '429' | '500' | '503' | 'reset' | 'truncate';

export interface FaultOptions {
  /** Probabilities 0..1 per call, drawn from a seeded PRNG so that runs are repeatable. */
  rate429?: number;
  rate500?: number;
  rateReset?: number;
  rateTruncate?: number;
  /** Probability that an answer under a json_schema format is JSON that breaks the schema. */
  rateInvalid?: number;
  seed?: number;
  /** When set, 429 and 503 answers carry `Retry-After: <s>`. */
  retryAfterS?: number;
  /** When set, 429 and 503 answers carry `retry-after-ms: <ms>`. */
  retryAfterMs?: number;
  /**
   * Injected 429 answers say the key has no requests left (`x-ratelimit-remaining-requests: 0`), as
   * at a real limit. Without it they are the sporadic 429s of an overloaded server.
   */
  exhausted429?: boolean;
  /**
   * The first N calls for each Idempotency-Key fail, cycling through `failKinds`. Counted since the
   * last reset; calls refused for auth or validation do not count.
   */
  failFirst?: number;
  /** Default ['429', '500']. */
  failKinds?: FaultKind[];
  /**
   * Probability that a request asking for `service_tier: "flex"` is answered 429 "resource
   * unavailable" (code `resource_unavailable`), as flex answers when it has no capacity. Not billed,
   * not counted by the rate limits.
   */
  flexUnavailable?: number;
}

/**
 * Server-enforced rate limits, like a hosted provider's. Every limit is checked when a call arrives
 * (after auth and body validation, before fault injection and latency) against a sliding window.
 * The allowance per window is `rpm * windowMs / 60000` requests and `tpm * windowMs / 60000` tokens,
 * rounded down; a short window keeps tests and benchmarks short while the configured numbers stay
 * per-minute figures. Refused calls get 429 and are not counted in the window, as with OpenAI.
 * An empty object limits nothing but still measures `windowPeak`, for watching a client's own pacing.
 */
export interface LimitOptions {
  /** Requests per minute. */
  rpm?: number;
  /** Tokens per minute; a call costs the `usage.total_tokens` its reply reports (0 when it reports none). */
  tpm?: number;
  /** Length of the sliding window in ms. Default 60000. */
  windowMs?: number;
  /** Admitted calls being handled at once; a call over it gets 429 too. */
  maxConcurrent?: number;
  /** Default true: send `x-ratelimit-*` headers with the replies of admitted calls and with limit 429s. */
  headers?: boolean;
}

export interface FakeServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a random free port. */
  port?: number;
  /** When set, calls without `Authorization: Bearer <apiKey>` get 401. */
  apiKey?: string;
  /**
   * Delay before each answer the "model" produces (200 replies and `[[status:NNN]]` answers).
   * Auth and validation errors and injected faults are answered at once, as a gateway would.
   */
  latencyMs?: number;
  faults?: FaultOptions;
  /** Unset: no limits. Setting (or clearing) limits starts a fresh window. */
  limits?: LimitOptions;
  /**
   * Opt-in: answer like a router that bills itself, with `usage.cost` in USD computed from these
   * prices (USD per 1M tokens). `usage` allows extra properties, so replies stay spec-valid.
   */
  usageCost?: UsageCostOptions;
}

export interface UsageCostOptions {
  inputPerMillion: number;
  outputPerMillion: number;
}

export type FakeServerSettings = Partial<Pick<FakeServerOptions, 'latencyMs' | 'faults' | 'apiKey' | 'limits' | 'usageCost'>>;

export interface FakeStats {
  requests: number;
  byStatus: Record<string, number>;
  /** Calls per Idempotency-Key ('-' when the header was absent). */
  byKey: Record<string, number>;
  resets: number;
  truncated: number;
  maxInFlight: number;
  inputTokens: number;
  outputTokens: number;
  /** 429s from the configured limits. They are in `byStatus` too, together with injected 429s. */
  limited: number;
  /** Valid calls that passed the limits (all valid calls when none are set). */
  admitted: number;
  /** Sum of the token costs of the admitted calls. */
  tokensAdmitted: number;
  /**
   * The most requests and tokens admitted within any one window while limits were set; a client
   * that respected the limits never pushes these over the allowance. Zero while no limits are set.
   */
  windowPeak: { requests: number; tokens: number };
  /** Arrival times (ms since the epoch) of the most recent calls, at most 10,000, oldest first. */
  arrivals: number[];
  /** Bytes of the request bodies of every `/responses` call (what clients uploaded). */
  requestBytes: number;
  /** The images of the most recent valid calls, at most 10,000, oldest first. */
  images: ReceivedImage[];
}

export interface FakeServer {
  /** Base URL including `/v1`, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  stats(): FakeStats;
  reset(): void;
  setOptions(p: FakeServerSettings): void;
  close(): Promise<void>;
}
