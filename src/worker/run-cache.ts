import type { Redis } from 'ioredis';
import { loadRun, type RunSettings } from '../queue/run-meta.js';

/** Run settings are written once per run and read by every job: keep them per process. */
export class RunCache {
  private readonly cache = new Map<string, Promise<RunSettings | null>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix?: string,
  ) {}

  get(run: string): Promise<RunSettings | null> {
    let entry = this.cache.get(run);
    if (!entry) {
      entry = loadRun(this.redis, run, this.prefix).then((s) => s?.settings ?? null);
      // Do not cache a miss or a failure: the run may be registered a moment later.
      entry.then((s) => s === null && this.cache.delete(run), () => this.cache.delete(run));
      this.cache.set(run, entry);
    }
    return entry;
  }

  forget(run: string): void {
    this.cache.delete(run);
  }
}
