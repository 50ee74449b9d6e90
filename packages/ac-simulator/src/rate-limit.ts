/**
 * The account's rate limits (CONTRACT.md §2), pure: every method takes `now` in milliseconds from a monotonic
 * clock, so tests drive them with a fake clock.
 *
 * - TokenBucket: the 5 requests/second budget [UNCONFIRMED algorithm; the contract suggests a token bucket].
 * - import-limits.ts: the 100/min (several contacts) and 20/min (one contact) bulk import budgets, and the audit.
 * - AccountLimiter: both, plus the bookkeeping that tells a client that ignores the signals from one that does not.
 *
 * Violations. A request is "over the limit" when it is refused for a limit, or when it arrives before a Retry-After
 * announced earlier has elapsed. It counts in `overLimitTotal`, and also in `violations` once the client has had a
 * signal: it arrived at least `toleranceMs` after the first refusal reached the client (a refusal reaches the client
 * `deliveryDelayMs` after it was decided, i.e. the simulated latency). Timer jitter is forgiven: a refused request that
 * would have been admitted `toleranceMs` later, and a request that misses a Retry-After by less than `toleranceMs`,
 * are not violations. Requests already in flight when a refusal was sent (arrived within `toleranceMs` of it reaching
 * the client) are not counted as ignoring that refusal's Retry-After.
 *
 * Signals are per client (its User-Agent; '' when it sends none). Several instances of a service share an account
 * and its limits, but an instance cannot honour a Retry-After sent to another: a request of a client that was never
 * refused is over the limit when the bucket is empty, as for anyone, but not a violation of a signal it never got.
 */

import {
  ImportAudit,
  windowLimit,
  type ImportLimiterKind,
  type ImportWindowReport,
  type WindowLimit,
} from './import-limits.js';

export { SlidingWindow } from './import-limits.js';

const EPSILON = 1e-9;

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private capacity: number,
    private refillPerSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  reconfigure(capacity: number, refillPerSecond: number, now: number): void {
    this.tokens = this.tokensAt(now);
    this.last = Math.max(this.last, now);
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.tokens = Math.min(this.tokens, capacity);
  }

  /** Tokens the bucket would hold at `now` if nothing were taken meanwhile. */
  tokensAt(now: number): number {
    const elapsed = Math.max(0, now - this.last);
    return Math.min(this.capacity, this.tokens + (elapsed * this.refillPerSecond) / 1000);
  }

  tryTake(now: number): boolean {
    this.tokens = this.tokensAt(now);
    this.last = Math.max(this.last, now);
    if (this.tokens < 1 - EPSILON) return false;
    this.tokens = Math.max(0, this.tokens - 1);
    return true;
  }

  remaining(now: number): number {
    return Math.floor(this.tokensAt(now) + EPSILON);
  }
}

export interface LimiterSettings {
  enabled: boolean;
  burst: number;
  requestsPerSecond: number;
  bulkMultiPerWindow: number;
  bulkSinglePerWindow: number;
  windowMs: number;
  importLimiter: ImportLimiterKind;
  /** 'combined': single-contact imports also take a slot of the multi-contact budget (100 in all). */
  importLimitScope: 'separate' | 'combined';
  /** Retry-After announced with a 429. */
  retryAfterMs: number;
  toleranceMs: number;
  /** Time between deciding an answer and the client receiving it (the simulated latency). */
  deliveryDelayMs: number;
}

export interface Admission {
  ok: boolean;
  /** For RateLimit-Remaining. */
  remaining: number;
  /** Announced with a refusal; 0 when admitted. */
  retryAfterMs: number;
  /** Arrived before an announced Retry-After had elapsed (already counted). */
  early: boolean;
  /** Who sent it (admit's `client`): the bulk import budget signals the same client. */
  client: string;
}

/** What one client was told: when its first refusal reached it, and the Retry-After periods still running. */
interface Signals {
  firstSignalAt: number;
  /** Oldest first. */
  retryPeriods: Array<{ deliveredAt: number; until: number }>;
}

export class AccountLimiter {
  violations = 0;
  overLimitTotal = 0;
  private readonly bucket: TokenBucket;
  private multi: WindowLimit;
  private single: WindowLimit;
  private readonly audit: ImportAudit;
  private readonly signals = new Map<string, Signals>();

  constructor(
    private settings: LimiterSettings,
    now: number,
  ) {
    this.bucket = new TokenBucket(settings.burst, settings.requestsPerSecond, now);
    this.multi = windowLimit(settings.importLimiter, settings.bulkMultiPerWindow, settings.windowMs, now);
    this.single = windowLimit(settings.importLimiter, settings.bulkSinglePerWindow, settings.windowMs, now);
    this.audit = new ImportAudit(settings.windowMs, settings.bulkMultiPerWindow, settings.bulkSinglePerWindow);
  }

  configure(settings: LimiterSettings, now: number): void {
    const kindChanged = settings.importLimiter !== this.settings.importLimiter;
    this.settings = settings;
    this.bucket.reconfigure(settings.burst, settings.requestsPerSecond, now);
    if (kindChanged) {
      // A different algorithm starts empty: its state cannot be carried over.
      this.multi = windowLimit(settings.importLimiter, settings.bulkMultiPerWindow, settings.windowMs, now);
      this.single = windowLimit(settings.importLimiter, settings.bulkSinglePerWindow, settings.windowMs, now);
    } else {
      this.multi.reconfigure(settings.bulkMultiPerWindow, settings.windowMs);
      this.single.reconfigure(settings.bulkSinglePerWindow, settings.windowMs);
    }
    this.audit.reconfigure(settings.windowMs, settings.bulkMultiPerWindow, settings.bulkSinglePerWindow);
  }

  /** Every 60 s window checked against the limits, whatever limiter is in force. */
  importWindows(): ImportWindowReport {
    return this.audit.snapshot();
  }

  /** RateLimit-Remaining for an answer that did not go through admit() (403, 503). */
  remaining(now: number): number {
    return this.settings.enabled ? this.bucket.remaining(now) : this.settings.burst;
  }

  /** The requests-per-second budget: every authenticated /api/3 request goes through here once. */
  admit(now: number, client = ''): Admission {
    const s = this.settings;
    if (!s.enabled) return { ok: true, remaining: s.burst, retryAfterMs: 0, early: false, client };
    const early = this.isEarly(now, client);
    if (this.bucket.tryTake(now)) {
      if (early) this.countOverLimit(now, true, client);
      return { ok: true, remaining: this.bucket.remaining(now), retryAfterMs: 0, early, client };
    }
    const overBeyondTolerance = this.bucket.tokensAt(now + s.toleranceMs) < 1 - EPSILON;
    this.countOverLimit(now, early || overBeyondTolerance, client);
    this.signal(now, s.retryAfterMs, client);
    return { ok: false, remaining: 0, retryAfterMs: s.retryAfterMs, early, client };
  }

  /**
   * The per-minute bulk import budgets, for a request admit() let through: ok, or the budget that refused it
   * (answer "Rate limit exceeded." naming that budget's limit). With scope 'combined' a single-contact import
   * needs a slot in both budgets and takes both. Every call is recorded by the audit, limits on or off.
   */
  admitBulk(
    kind: 'single' | 'multi',
    now: number,
    admission: Admission,
  ): { ok: true } | { ok: false; refusedBy: 'single' | 'multi' } {
    this.audit.record(kind, now);
    if (!this.settings.enabled) return { ok: true };
    const windows: Array<['single' | 'multi', WindowLimit]> =
      kind === 'multi' ? [['multi', this.multi]] : [['single', this.single]];
    if (kind === 'single' && this.settings.importLimitScope === 'combined') windows.push(['multi', this.multi]);
    const refusing = windows.find(([, w]) => !w.wouldAdmit(now));
    if (refusing === undefined) {
      for (const [, w] of windows) w.tryAcquire(now);
      return { ok: true };
    }
    const [refusedBy, window] = refusing;
    // An early request was counted by admit() already.
    if (!admission.early)
      this.countOverLimit(now, !window.wouldAdmit(now + this.settings.toleranceMs), admission.client);
    this.signal(now, 0, admission.client);
    return { ok: false, refusedBy };
  }

  private countOverLimit(now: number, beyondTolerance: boolean, client: string): void {
    this.overLimitTotal++;
    const first = this.signals.get(client)?.firstSignalAt;
    const signalled = first !== undefined && now >= first + this.settings.toleranceMs;
    if (signalled && beyondTolerance) this.violations++;
  }

  private signal(now: number, retryAfterMs: number, client: string): void {
    const deliveredAt = now + this.settings.deliveryDelayMs;
    let told = this.signals.get(client);
    if (told === undefined) this.signals.set(client, (told = { firstSignalAt: deliveredAt, retryPeriods: [] }));
    if (retryAfterMs > 0) told.retryPeriods.push({ deliveredAt, until: deliveredAt + retryAfterMs });
  }

  /** Did the request arrive before a Retry-After, that reached this client before it was sent, elapsed? */
  private isEarly(now: number, client: string): boolean {
    const periods = this.signals.get(client)?.retryPeriods;
    if (periods === undefined) return false;
    const tolerance = this.settings.toleranceMs;
    while (periods.length > 0 && (periods[0]?.until ?? 0) - tolerance <= now) periods.shift();
    for (let i = periods.length - 1; i >= 0; i--) {
      const period = periods[i];
      if (period !== undefined && period.deliveredAt + tolerance <= now) return now < period.until - tolerance;
    }
    return false;
  }
}
