/**
 * Which tier a run's items go by right now (docs/modes.md). `online`, `flex` and `batch` runs keep
 * their mode; an `auto` run starts at `batch` and may be switched to `flex` or the standard tier by the
 * process that watches its deadline, which records the switch in the run's meta for every worker.
 */
import type { RunSettings } from '../queue/run-meta.js';
import type { TierMode } from './deadline-plan.js';

export function effectiveMode(settings: Pick<RunSettings, 'mode'>, modeNow: string | null | undefined): TierMode {
  switch (settings.mode) {
    case 'batch':
      return 'batch';
    case 'flex':
      return 'flex';
    case 'auto':
      return modeNow === 'flex' || modeNow === 'online' ? modeNow : 'batch';
    default:
      return 'online';
  }
}
