/** The Redis a process uses: its URL, where that came from, and how to stop it when respool started it. */
export interface RedisTarget {
  url: string;
  /** Where the URL came from, for the start-up log line: passed in (REDIS_URL on the command line), found locally, or started. */
  origin: 'given' | 'local' | 'embedded';
  /** Stops an embedded server; a no-op otherwise. */
  stop(): Promise<void>;
}
