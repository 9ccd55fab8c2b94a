/**
 * Waits `ms`, or less when `signal` aborts first (then it resolves early: callers that must stop
 * check the signal themselves). `unref` lets the process exit while only this timer is left.
 */
export function sleep(ms: number, signal?: AbortSignal, opts: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (opts.unref) t.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
