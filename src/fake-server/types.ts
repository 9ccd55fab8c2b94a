/** Public option and result shapes of the fake OpenResponses server. */

export type FaultKind = '429' | '500' | '503' | 'reset' | 'truncate';

export interface FaultOptions {
  /** Probabilities 0..1 per call, drawn from a seeded PRNG so that runs are repeatable. */
  rate429?: number;
  rate500?: number;
  rateReset?: number;
  rateTruncate?: number;
  seed?: number;
  /** When set, 429 and 503 answers carry `Retry-After: <s>`. */
  retryAfterS?: number;
  /** When set, 429 and 503 answers carry `retry-after-ms: <ms>`. */
  retryAfterMs?: number;
  /**
   * The first N calls for each Idempotency-Key fail, cycling through `failKinds`. Counted since the
   * last reset; calls refused for auth or validation do not count.
   */
  failFirst?: number;
  /** Default ['429', '500']. */
  failKinds?: FaultKind[];
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
}

export type FakeServerSettings = Partial<Pick<FakeServerOptions, 'latencyMs' | 'faults' | 'apiKey'>>;

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
