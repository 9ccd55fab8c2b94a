/**
 * The workers' side of batch mode (docs/modes.md#batch): a job of a run that goes by the batch tier
 * makes no call. Its request body (the one `online` would send) is prepared here, where the item's
 * image files can be read, and parked in Redis for the run's next provider batch; the job then ends
 * without a line, and the item's line comes later from the batch's output.
 *
 * A job of a run that goes online but has batch state (an `auto` run that switched, a batch run
 * resumed with `--mode online`) first takes its item out of the parked set, unless a live provider
 * batch holds the item: then that batch answers it and the job ends without a call.
 */
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobData } from '../core/item.js';
import { BatchState } from '../queue/batch-state.js';
import { RunStore } from '../queue/run-store.js';
import type { RunSettings } from '../queue/run-meta.js';
import { ImageUnreadableError, prepareCall } from '../worker/prepare-call.js';
import type { RunCache } from '../worker/run-cache.js';
import { effectiveMode } from './mode.js';
import type { TierMode } from './deadline-plan.js';

type Processor = (job: Job<JobData>, token?: string, signal?: AbortSignal) => Promise<void>;

export interface ParkingOptions {
  redis: Redis;
  prefix?: string;
  runs: RunCache;
}

/** How long a process trusts what it read of a run's current mode and batch state. */
const FRESH_MS = 1000;

export class Parking {
  private readonly states = new Map<string, BatchState>();
  private readonly modes = new Map<string, { at: number; mode: Promise<TierMode> }>();
  private readonly hasState = new Map<string, { at: number; has: Promise<boolean> }>();

  constructor(private readonly opts: ParkingOptions) {}

  /** Wraps the online processor: batch-tier jobs are parked instead of called. */
  wrap(online: Processor): Processor {
    return async (job, token, signal) => {
      const data = job.data;
      if (data.type !== 'item') return online(job, token, signal);
      const settings = await this.opts.runs.get(data.run);
      if (!settings) return online(job, token, signal);
      const mode = await this.modeOf(settings);
      const state = this.stateOf(data.run);
      if (mode === 'batch' && !needsOnline(settings)) {
        const body = await preparedBody(data, settings);
        // An image that cannot be read: the online path writes its rejected line.
        if (body === null) return online(job, token, signal);
        const parked = await state.park(job.id!, body, data);
        if (parked === 'online') return online(job, token, signal);
        return;
      }
      if (settings.mode === 'batch' || settings.mode === 'auto' || (await this.hasBatchState(data.run, state))) {
        if ((await state.unpark(job.id!)) === 'live') return;
      }
      return online(job, token, signal);
    };
  }

  forget(run: string): void {
    this.modes.delete(run);
    this.hasState.delete(run);
  }

  private stateOf(run: string): BatchState {
    let s = this.states.get(run);
    if (!s) {
      s = new BatchState(this.opts.redis, run, this.opts.prefix);
      this.states.set(run, s);
    }
    return s;
  }

  /** The tier the run's items go by now; an `auto` run's is read again at most every FRESH_MS. */
  modeOf(settings: RunSettings): Promise<TierMode> {
    if (settings.mode !== 'auto') return Promise.resolve(effectiveMode(settings, null));
    const now = Date.now();
    const cached = this.modes.get(settings.run);
    if (cached && now - cached.at < FRESH_MS) return cached.mode;
    const mode = new RunStore(this.opts.redis, settings.run, this.opts.prefix).modeNow().then((m) => effectiveMode(settings, m));
    mode.catch(() => this.modes.delete(settings.run));
    this.modes.set(settings.run, { at: now, mode });
    return mode;
  }

  private hasBatchState(run: string, state: BatchState): Promise<boolean> {
    const now = Date.now();
    const cached = this.hasState.get(run);
    if (cached && now - cached.at < FRESH_MS) return cached.has;
    const has = state.exists();
    has.catch(() => this.hasState.delete(run));
    this.hasState.set(run, { at: now, has });
    return has;
  }
}

/**
 * Items that a batch cannot answer as `online` would: several samples put to a vote need several
 * calls of the same item, so such runs send their items online whatever the mode.
 */
export function needsOnline(settings: RunSettings): boolean {
  return (settings.structured?.samples ?? 1) > 1;
}

/** The body `online` would send for this item, or null when one of its images cannot be read now. */
async function preparedBody(data: Extract<JobData, { type: 'item' }>, settings: RunSettings): Promise<Record<string, unknown> | null> {
  try {
    return (await prepareCall(data.request, settings)).body;
  } catch (err) {
    if (err instanceof ImageUnreadableError) return null;
    throw err;
  }
}
