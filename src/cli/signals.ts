import type { Logger } from '../core/logger.js';
import { EXIT } from './exit.js';

/**
 * The first SIGINT/SIGTERM aborts the returned signal, so that the command finishes its calls in
 * flight and leaves a run that the same command resumes; a second one exits at once.
 */
export function stopOnSignals(log: Logger): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted);
    log.warn('stopping: finishing calls in flight (press Ctrl-C again to exit at once); run the same command to resume');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
