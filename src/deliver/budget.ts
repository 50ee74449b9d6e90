/**
 * The request budget of one ActiveCampaign account, as seen by this instance. Pure: time comes in as arguments.
 *
 * Each limit is paced evenly (a token bucket of one token): requests at `requestsPerSecond`, multi-contact and
 * single-contact imports at their per-minute rates. Even pacing never puts more than the rate into any window,
 * so it never trips a fixed-window, sliding-window or bucket limiter on the other side. `share` is this
 * instance's part of the account (its fraction of the partitions, or a fixed share); `throttle` shrinks
 * multiplicatively on every 429 and recovers gradually, for when others spend the same account's budget.
 *
 * After a 429 the pace recovers only up to a ceiling of 80% of the pace that tripped it, and the ceiling itself
 * relaxes slowly (5% per quiet `ceilingRelaxMs`): if others keep spending up to a fifth of the budget, one 429 is
 * all they cause; if they spend more, each further 429 lowers the ceiling again.
 */
export type Spend = 'request' | 'import' | 'single-import';

export interface BudgetRates {
  requestsPerSecond: number;
  importsPerMinute: number;
  singleImportsPerMinute: number;
  /**
   * CONTRACT.md §2 leaves open whether single-contact imports count toward the 100 a minute. `combined` (the
   * config default, the cautious reading): every import, single or multi, spends the import pace, and single
   * ones their own pace too. `separate` (when not given): the two paces are apart.
   */
  importScope?: 'separate' | 'combined';
}

export class RateBudget {
  private nextRequestAt = 0;
  private nextImportAt = 0;
  private nextSingleAt = 0;
  private blockedUntil = 0;
  private importsBlockedUntil = 0;
  private throttle = 1;
  private ceiling = 1;
  private lastThrottleAt = -Infinity;
  share = 1;

  constructor(
    private readonly rates: BudgetRates,
    private readonly timeScale = 1,
    private readonly ceilingRelaxMs = 300_000,
  ) {}

  /** When a request of this kind may go: `now` or later. */
  readyAt(kind: Spend, now: number): number {
    let t = Math.max(now, this.nextRequestAt, this.blockedUntil);
    if (kind === 'import') t = Math.max(t, this.nextImportAt, this.importsBlockedUntil);
    if (kind === 'single-import') t = Math.max(t, this.nextSingleAt, this.importsBlockedUntil, this.combined ? this.nextImportAt : 0);
    return t;
  }

  /** Records a request sent at `now`; call only when readyAt(kind, now) <= now. */
  spend(kind: Spend, now: number): void {
    const f = this.share * this.throttle * this.timeScale;
    this.nextRequestAt = Math.max(now, this.nextRequestAt) + 1_000 / (this.rates.requestsPerSecond * f);
    if (kind === 'import' || (kind === 'single-import' && this.combined)) this.nextImportAt = Math.max(now, this.nextImportAt) + 60_000 / (this.rates.importsPerMinute * f);
    if (kind === 'single-import') {
      this.nextSingleAt = Math.max(now, this.nextSingleAt) + 60_000 / (Math.max(this.rates.singleImportsPerMinute, 1e-9) * f);
    }
  }

  /** Whether a single-contact import could go now without waiting on its own (small) budget. */
  singleAvailable(now: number): boolean {
    return this.rates.singleImportsPerMinute > 0 && this.nextSingleAt <= now;
  }

  private get combined(): boolean {
    return this.rates.importScope === 'combined';
  }

  /** A 429: nothing goes before Retry-After elapses, and the pace slows. */
  throttled(retryAfterMs: number, now: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, now + retryAfterMs);
    this.slowDown(now);
  }

  /** The bulk-import "Rate limit exceeded." answer: imports wait, other requests go on. */
  importsThrottled(waitMs: number, now: number): void {
    this.importsBlockedUntil = Math.max(this.importsBlockedUntil, now + waitMs / this.timeScale);
    this.slowDown(now);
  }

  /** A success: recover the pace gradually (additive increase), up to the ceiling. */
  succeeded(now: number): void {
    const quiet = now - this.lastThrottleAt;
    const relaxMs = this.ceilingRelaxMs / this.timeScale;
    if (this.ceiling < 1 && quiet >= relaxMs) {
      this.ceiling = Math.min(1, this.ceiling + 0.05);
      this.lastThrottleAt = now - quiet + relaxMs;
    }
    this.throttle = Math.min(this.ceiling, this.throttle + 0.02);
  }

  private slowDown(now: number): void {
    // Requests already in flight when the first 429 came back must not lower the ceiling twice.
    if (now - this.lastThrottleAt > 1_000 / this.timeScale) this.ceiling = Math.max(0.1, this.throttle * 0.8);
    this.throttle = Math.max(0.05, this.throttle * 0.5);
    this.lastThrottleAt = now;
  }

  /** The pace now, as a fraction of the configured rates (share × throttle). */
  get utilisation(): number {
    return this.share * this.throttle;
  }
}
