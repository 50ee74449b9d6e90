/**
 * Time as schedulers see it, injected so tests drive it (test/support/virtual-clock.ts) instead of sleeping.
 * `sleep` resolves early, without an error, when `signal` aborts: the caller checks why it woke.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** Exponential backoff with equal jitter: attempt 1 waits about `initialMs`, each next one twice that, up to `maxMs`. */
export function backoffMs(attempt: number, o: { initialMs: number; maxMs: number }, random: () => number): number {
  const ceiling = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
