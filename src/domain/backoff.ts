/**
 * The one retry backoff: exponential from `initialMs`, doubling per failure up to `maxMs`, with equal jitter
 * (each wait lands in [half, all] of its step, so retries that failed together spread out yet never wait
 * less than half the step). Pure: the random source is injected (tests pass a constant), and the caller
 * sleeps on its own clock, so virtual clocks and scaled time keep working.
 */
export interface BackoffPolicy {
  /** The step of the first failure, in ms. */
  initialMs: number;
  /** The largest step, in ms, before jitter. */
  maxMs: number;
}

/** A number in [0, 1), as Math.random. */
export type Random = () => number;

/** The wait after the `attempt`-th failure in a row (1-based): about `initialMs` × 2^(attempt−1), capped. */
export function backoffDelay(attempt: number, p: BackoffPolicy, random: Random = Math.random): number {
  // The exponent is bounded so a long outage cannot overflow the step to Infinity × 0 = NaN (initialMs 0).
  const step = Math.min(p.maxMs, p.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Failures in a row of one thing (a connection, a partition): `next()` after each, `reset()` once it works. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: Random = Math.random,
  ) {}

  /** Failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Counts one more failure and says how long to wait before trying again. */
  next(): number {
    this.failures++;
    return backoffDelay(this.failures, this.policy, this.random);
  }

  /** It worked: the next failure starts again from `initialMs`. */
  reset(): void {
    this.failures = 0;
  }
}
