import type { ProgressSample } from '../queue/line-stats.js';

/** The window `status` measures the rate over. */
export const RATE_WINDOW_MS = 60_000;

/**
 * Lines written per second over about the last `windowMs`: from the newest sample at least that old
 * (or the oldest sample there is) to now. A collector that stopped writing shows a falling rate and
 * then 0, because the baseline stays while time goes on. null when there is no sample yet, or it is
 * too recent to divide by.
 */
export function recentRate(samples: ProgressSample[], written: number, now: number, windowMs = RATE_WINDOW_MS): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => b.t - a.t);
  const baseline = sorted.find((s) => s.t <= now - windowMs) ?? sorted[sorted.length - 1]!;
  const seconds = (now - baseline.t) / 1000;
  if (seconds < 1) return null;
  // `retry` lowers the written count; a rate is never negative.
  return Math.max(0, (written - baseline.written) / seconds);
}

/** Seconds until `remaining` lines are written at `rate`; 0 when nothing remains, null when unknown. */
export function etaSeconds(remaining: number, rate: number | null): number | null {
  if (remaining <= 0) return 0;
  if (rate === null || rate <= 0) return null;
  return remaining / rate;
}

/** 75 -> "1m15s", 3900 -> "1h05m", for the status table. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}
