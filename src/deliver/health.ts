import { Backoff } from '../domain/backoff.js';
import type { Random } from './clock.js';

/**
 * Whether the account answers, pure: a failing account (5xx, network, refused token) pauses delivery with a
 * jittered exponential backoff, and nothing is dead-lettered for it. Time comes in as arguments.
 */
export type HealthChange =
  /** The account started failing, or now fails with another code: report it (log, gauge). */
  | { kind: 'down'; code: string; previous: string | undefined }
  /** The account answers again after `after` failures. */
  | { kind: 'up'; code: string; after: number }
  | { kind: 'same' };

export class AccountHealth {
  private downUntil = 0;
  /** Failures seen so far: a request carries the count from before it was sent (mark()). */
  private failures = 0;
  private readonly backoff: Backoff;
  private code: string | undefined;

  constructor(maxBackoffMs: number, random: Random = Math.random) {
    // 500 × 2^10 was the old exponent bound, kept so a maxBackoffMs above it (the schema allows 600 000)
    // waits as before.
    this.backoff = new Backoff({ initialMs: 500, maxMs: Math.min(maxBackoffMs, 500 * 2 ** 10) }, random);
  }

  get down(): boolean {
    return this.code !== undefined;
  }

  /** What the account failed with last (undefined while it is up): AUTH_FAILED is a refused token. */
  get failing(): string | undefined {
    return this.code;
  }

  /**
   * Taken just before a request is sent, and handed back with its answer: whether a failure was seen in between.
   * A count, not a time, so a request sent in the same millisecond as a failure is still told apart from one sent
   * after it.
   */
  mark(): number {
    return this.failures;
  }

  /**
   * The token probe, sent with `sent` (mark()), was accepted while delivery is paused for a refused token: the next
   * attempt may go at `now` instead of at the end of the pause. Only for AUTH_FAILED (an accepted token says nothing
   * of a 5xx on imports), and only for a probe sent after the last failure (an older answer must not end a newer
   * pause). The backoff is kept, so a failing attempt pauses longer next time.
   */
  retrySoon(now: number, sent: number): boolean {
    if (this.code !== 'AUTH_FAILED' || sent < this.failures || this.downUntil <= now) return false;
    this.downUntil = now;
    return true;
  }

  /** Until when nothing is sent (0 when the account is up). */
  get pausedUntil(): number {
    return this.downUntil;
  }

  /** A failure at `now`: pause for 500 ms × 2^(n−1), capped, halved at random (jitter). */
  failed(code: string, now: number): HealthChange {
    this.downUntil = now + this.backoff.next();
    this.failures++;
    if (this.code === code) return { kind: 'same' };
    const previous = this.code;
    this.code = code;
    return { kind: 'down', code, previous };
  }

  /**
   * An answer to a request sent with `sent` (mark()): the account is up. An answer to a request sent before the
   * last failure was seen says nothing of now (it may have been decided before the outage began and read after it).
   */
  answered(sent: number): HealthChange {
    if (this.code === undefined || sent < this.failures) return { kind: 'same' };
    const change: HealthChange = { kind: 'up', code: this.code, after: this.backoff.attempts };
    this.code = undefined;
    this.backoff.reset();
    this.downUntil = 0;
    return change;
  }
}
