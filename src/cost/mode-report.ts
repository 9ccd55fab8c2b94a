/**
 * The per-mode part of `respool estimate`, from a run's settings: costs side by side and, with a
 * deadline, whether it can be met online. Pure (the time is given); the command prints what this
 * returns.
 */
import type { JobConfig } from '../config/schema.js';
import { parseDeadline } from '../config/deadline.js';
import { formatUsd, nanosToUsd } from './compute.js';
import type { ModelEstimate } from './run-estimate.js';
import { ASSUMED_CALL_SECONDS, formatDuration, judgeDeadline, modeCosts, onlineTime, type DeadlineVerdict, type ModeCost, type OnlineTime } from './mode-estimate.js';
import type { ModelPrice } from './prices.js';

export interface ModesEstimate {
  mode: JobConfig['mode'];
  costs: ModeCost[];
  online: OnlineTime;
  callSeconds: number;
  deadline: DeadlineVerdict | null;
}

type ModeSettings = Pick<JobConfig, 'mode' | 'deadline' | 'deadline_margin' | 'concurrency' | 'max_in_flight' | 'rpm' | 'tpm' | 'limits'>;

/** `callSeconds`: how long a call takes (the probe's mean); ASSUMED_CALL_SECONDS without a probe. */
export function modesFor(models: ModelEstimate[], priceOf: (model: string) => ModelPrice | null, config: ModeSettings, nowMs: number, callSeconds = ASSUMED_CALL_SECONDS): ModesEstimate {
  const concurrency = Math.min(config.concurrency, config.max_in_flight ?? Number.POSITIVE_INFINITY);
  const online = onlineTime(models, {
    concurrency,
    callSeconds,
    limitsOf: (model) => ({ rpm: config.limits[model]?.rpm ?? config.rpm, tpm: config.limits[model]?.tpm ?? config.tpm }),
  });
  const deadlineMs = config.deadline === undefined ? null : parseDeadline(config.deadline, nowMs);
  const deadline = deadlineMs === null ? null : judgeDeadline(online, deadlineMs, nowMs, config.deadline_margin);
  return { mode: config.mode, costs: modeCosts(models, priceOf, deadline), online, callSeconds, deadline };
}

const MODE_NOTE = {
  online: 'standard tier',
  flex: 'flex tier; items that fall back to the default tier cost the standard price',
  batch: 'provider Batch API, results within 24 h',
  auto: '',
} as const;

/** The lines `estimate` prints: a table of the modes, then the deadline's verdict. */
export function modeLines(e: ModesEstimate): string[] {
  const autoNote =
    e.deadline === null ? 'batch with a 24 h window (no deadline)'
    : e.deadline.batchWindowFits ? 'batch: the deadline is beyond the 24 h batch window'
    : 'from the batch price (batch done in time) to the standard price (everything moved online)';
  const rows = e.costs.map((c) => [
    `${c.mode}${c.mode === e.mode ? ' *' : ''}`,
    c.range ? `${formatUsd(c.range.lowNanos)} – ${formatUsd(c.range.highNanos)}` : formatUsd(null),
    [c.mode === 'auto' ? autoNote : MODE_NOTE[c.mode], c.noTierPrice.length > 0 ? `no ${c.mode === 'auto' ? 'batch' : c.mode} price for ${c.noTierPrice.join(', ')}: standard price` : ''].filter((x) => x).join('; '),
  ]);
  const w0 = Math.max(4, ...rows.map((r) => r[0]!.length));
  const w1 = Math.max(4, ...rows.map((r) => r[1]!.length));
  const out = ['Cost per mode (* the run\'s mode):', ...rows.map((r) => `  ${r[0]!.padEnd(w0)}  ${r[1]!.padStart(w1)}  ${r[2]}`.trimEnd())];
  const bound = `${formatDuration(e.online.seconds)} online (bound by ${e.online.boundBy}${e.online.boundBy === 'concurrency' ? `, at ${Number(e.callSeconds.toFixed(1))} s a call` : ''})`;
  if (e.deadline === null) {
    out.push(`Time: ${bound}.`);
    return out;
  }
  const d = e.deadline;
  const at = isoSeconds(d.deadlineMs);
  if (!d.reachable) {
    out.push(`Deadline ${at} (in ${formatDuration(d.secondsLeft)}): NOT reachable: the items need ${bound}, more than the time left less the safety margin.`);
  } else if (d.batchWindowFits) {
    out.push(`Deadline ${at} (in ${formatDuration(d.secondsLeft)}): reachable; it is beyond the 24 h batch window, so auto runs as batch. ${bound}.`);
  } else {
    const latest = d.latestSwitchMs === null ? 'now' : isoSeconds(d.latestSwitchMs);
    out.push(`Deadline ${at} (in ${formatDuration(d.secondsLeft)}): reachable: ${bound}; auto starts as batch and moves what is left online by ${latest} at the latest.`);
  }
  return out;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function modesJson(e: ModesEstimate) {
  return {
    mode: e.mode,
    costs: e.costs.map((c) => ({
      mode: c.mode,
      cost_usd: c.range && { low: nanosToUsd(c.range.lowNanos), high: nanosToUsd(c.range.highNanos) },
      no_tier_price_models: c.noTierPrice,
      unpriced_models: c.unpriced,
    })),
    online_seconds: Math.ceil(e.online.seconds),
    online_bound_by: e.online.boundBy,
    call_seconds_assumed: e.callSeconds,
    deadline: e.deadline && {
      at: new Date(e.deadline.deadlineMs).toISOString(),
      seconds_left: Math.floor(e.deadline.secondsLeft),
      reachable: e.deadline.reachable,
      batch_window_fits: e.deadline.batchWindowFits,
      latest_switch_at: e.deadline.latestSwitchMs === null ? null : new Date(e.deadline.latestSwitchMs).toISOString(),
    },
  };
}
