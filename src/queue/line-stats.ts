import type { Redis } from 'ioredis';
import type { RunKeys } from './keys.js';
import { luaCommands } from './lua-commands.js';

/** Progress samples kept per run: at most one a second, so five minutes of history at full speed. */
const MAX_SAMPLES = 300;
const SAMPLE_EVERY_MS = 1000;

export interface ProgressSample {
  /** ms since the epoch */
  t: number;
  written: number;
}

interface StatsCommands {
  respoolRecordLines(lineCounts: string, progress: string, written: string, now: string, ...statusCounts: string[]): Promise<number>;
}

/**
 * What the collector records after each batch for `respool status`: lines per status, and at most
 * once a second a (time, lines written) sample for the rate. Display figures: they are updated right
 * after the batch is marked written, so a collector killed in between leaves a count short by that batch.
 */
export class LineStats {
  private lastSample = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RunKeys,
  ) {}

  async record(statuses: string[]): Promise<void> {
    if (statuses.length === 0) return;
    const byStatus = new Map<string, number>();
    for (const s of statuses) byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
    const now = Date.now();
    const sample = now - this.lastSample >= SAMPLE_EVERY_MS;
    if (sample) this.lastSample = now;
    const cmd = luaCommands<StatsCommands>(this.redis, { respoolRecordLines: { file: 'recordLines', constants: { MAX_SAMPLES } } });
    await cmd.respoolRecordLines(this.keys.lineCounts, this.keys.progress, this.keys.written, sample ? String(now) : '', ...[...byStatus].flatMap(([k, n]) => [k, String(n)]));
  }
}

export async function readLineCounts(redis: Redis, keys: RunKeys): Promise<Record<string, number>> {
  const raw = await redis.hgetall(keys.lineCounts);
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
}

export async function readProgress(redis: Redis, keys: RunKeys): Promise<ProgressSample[]> {
  const raw = await redis.lrange(keys.progress, 0, -1);
  return raw
    .map((s) => {
      const [t, w] = s.split(':');
      return { t: Number(t), written: Number(w) };
    })
    .filter((s) => Number.isFinite(s.t) && Number.isFinite(s.written));
}
