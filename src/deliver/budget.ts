import { ImportWindow } from './import-window.js';
import { RequestArrivals } from './request-arrivals.js';

/**
 * The request budget of one ActiveCampaign account, as seen by this instance. Pure: time comes in as arguments.
 *
 * Requests are paced evenly at `requestsPerSecond` (a token bucket of one token), and each also waits until
 * ActiveCampaign's bucket could take it wherever between their send and their answer the requests before it arrived
 * (request-arrivals.ts): the account's client tells the budget of every request it sends and of every answer
 * (sent(), answered(); metered-api.ts). The per-minute import budgets are sliding 60 s windows (import-window.ts):
 * up to the whole minute's imports may go at once, and each slot frees 60 s after its import was answered, so no
 * 60 s span at ActiveCampaign ever holds more than the rate, under a sliding window, fixed windows or a bucket on its
 * side. Even pacing gave the same bound but wasted every slot a timer fired late; the window lets the scheduler
 * catch up. `share` is this instance's part of the account
 * (its fraction of the partitions, or a fixed share). Two throttles, for when others spend the same account's
 * budget: the request pace shrinks on every 429, the import windows on every bulk "Rate limit exceeded.", and each
 * recovers gradually. A window holds the whole imports of `rate × share × throttle` (rounded down); below one a
 * minute, one import per proportionally longer window.
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

/** An import's hold on the windows: `answered(now)` when its answer (or its timeout) comes back. */
export interface ImportSlot {
  answered(now: number): void;
}

const NO_SLOT: ImportSlot = { answered: () => {} };

/**
 * The requests ActiveCampaign's bucket is taken to hold (CONTRACT.md §2 assumes 5 tokens, 5 a second). Each
 * instance models the whole bucket from its own answers: shares split the rate, not this burst.
 */
const ACCOUNT_BURST = 5;

export class RateBudget {
  private nextRequestAt = 0;
  /** The even pace of the import window's rate: a partial import (cut by age) waits for it, a full one does not. */
  private nextPacedAt = 0;
  private readonly imports = new ImportWindow();
  private readonly singles = new ImportWindow();
  private blockedUntil = 0;
  private importsBlockedUntil = 0;
  private readonly requestPace = new Pace();
  private readonly importPace = new Pace();
  private readonly arrivals = new RequestArrivals(ACCOUNT_BURST);
  share = 1;

  /** The request pace keeps this share until `requestShareUntil` (a larger share waits one second). */
  private requestShare = 1;
  private requestShareUntil = 0;

  /**
   * A rebalance changed this instance's share. A larger share takes effect only after the span ActiveCampaign
   * counts: the member that had the partitions spent its part of it, and the account counts those requests too.
   * The request pace keeps the old share for one second; in the import windows the extra slots are held for one
   * window, as if taken now. A smaller share takes effect at once.
   */
  setShare(share: number, now: number): void {
    const grows = share > this.share;
    if (grows) {
      this.requestShare = this.share;
      this.requestShareUntil = now + 1_000 / this.timeScale;
    }
    const imports = this.window(this.rates.importsPerMinute).limit;
    const singles = this.window(this.rates.singleImportsPerMinute).limit;
    this.share = share;
    if (!grows) return;
    const minute = 60_000 / this.timeScale;
    this.imports.hold(this.window(this.rates.importsPerMinute).limit - imports, now + minute);
    if (this.rates.singleImportsPerMinute > 0)
      this.singles.hold(this.window(this.rates.singleImportsPerMinute).limit - singles, now + minute);
  }

  constructor(
    private readonly rates: BudgetRates,
    private readonly timeScale = 1,
    private readonly ceilingRelaxMs = 300_000,
  ) {}

  /**
   * When a request of this kind may go: `now` or later. A `partial` multi-contact import (cut by age, not full)
   * also keeps to the window's even pace: the window's burst is for full imports, so a backlog fills its imports
   * to 250 instead of spending slots on the first contacts to arrive.
   */
  readyAt(kind: Spend, now: number, partial = false): number {
    let t = Math.max(now, this.nextRequestAt, this.blockedUntil, this.arrivals.readyAt(now, this.requestGap(now)));
    if (kind === 'request') return t;
    t = Math.max(t, this.importsBlockedUntil);
    if (partial && kind === 'import') t = Math.max(t, this.nextPacedAt);
    if (kind === 'import' || this.combined)
      t = Math.max(t, this.imports.readyAt(now, this.window(this.rates.importsPerMinute).limit));
    if (kind === 'single-import') t = Math.max(t, this.singleReadyAt(now));
    return t;
  }

  /**
   * Records a request sent at `now`; call only when readyAt(kind, now) <= now. An import holds its slots in the
   * per-minute windows until `answered` is called on what this returns, and for 60 s after.
   */
  spend(kind: Spend, now: number): ImportSlot {
    this.nextRequestAt = Math.max(now, this.nextRequestAt) + this.requestGap(now);
    if (kind === 'request') return NO_SLOT;
    if (kind === 'import' || this.combined) {
      const { limit, ms } = this.window(this.rates.importsPerMinute);
      this.nextPacedAt = Math.max(now, this.nextPacedAt) + ms / limit;
    }
    const held: ImportSlot[] = [];
    if (kind === 'import' || this.combined)
      held.push(this.imports.take(() => this.window(this.rates.importsPerMinute).ms));
    if (kind === 'single-import') held.push(this.singles.take(() => this.window(this.rates.singleImportsPerMinute).ms));
    return {
      answered: (at) => {
        for (const slot of held) slot.answered(at);
      },
    };
  }

  /** A request of this account went out at `now` (metered-api.ts: every request, whatever spent its slot). */
  sent(now: number): number {
    return this.arrivals.sent(now);
  }

  /** The answer to the request `sent()` named came back at `now` (or it failed): ActiveCampaign counted it by then. */
  answered(id: number, now: number): void {
    this.arrivals.answered(id, now, this.requestGap(now));
  }

  /** The request pace's gap at `now`, in ms. */
  private requestGap(now: number): number {
    const f =
      (now < this.requestShareUntil ? this.requestShare : this.share) * this.requestPace.throttle * this.timeScale;
    return 1_000 / (this.rates.requestsPerSecond * f);
  }

  /** Whether a single-contact import could go now without waiting on its own (small) budget. */
  singleAvailable(now: number): boolean {
    return this.rates.singleImportsPerMinute > 0 && this.singleReadyAt(now) <= now;
  }

  private singleReadyAt(now: number): number {
    if (this.rates.singleImportsPerMinute <= 0) return Infinity;
    return this.singles.readyAt(now, this.window(this.rates.singleImportsPerMinute).limit);
  }

  /**
   * The window for `perMinute` at the current pace: `limit` whole imports per `ms`, never more than the pace in any
   * 60 s (scaled) span. Rounded down; a pace under one a minute gets one import per longer window.
   */
  private window(perMinute: number): { limit: number; ms: number } {
    const paced = perMinute * this.share * this.importPace.throttle;
    const minute = 60_000 / this.timeScale;
    return paced >= 1
      ? { limit: Math.floor(paced + 1e-9), ms: minute }
      : { limit: 1, ms: minute / Math.max(paced, 1e-9) };
  }

  private get combined(): boolean {
    return this.rates.importScope === 'combined';
  }

  /**
   * A 429 (the 5 requests/s limit): nothing goes before Retry-After elapses, and the request pace slows. The
   * import windows keep their pace: they have their own signal, and a 429 under a burst of polls says nothing
   * about imports (slowing them cost a 1M-contact run 40% of its pace for a handful of 429s).
   */
  throttled(retryAfterMs: number, now: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, now + retryAfterMs);
    this.requestPace.slowDown(now, 1_000 / this.timeScale);
  }

  /** Whether a Retry-After holds every request at `now`. */
  blocked(now: number): boolean {
    return now < this.blockedUntil;
  }

  /**
   * Whether answers that came back together hold requests at `now`, whatever the pace (a slot claimed ahead checks
   * this when it is due: it claims again).
   */
  bunched(now: number): boolean {
    return this.arrivals.readyAt(now, this.requestGap(now)) > now;
  }

  /** The bulk-import "Rate limit exceeded." answer: imports wait and their windows shrink; other requests go on. */
  importsThrottled(waitMs: number, now: number): void {
    this.importsBlockedUntil = Math.max(this.importsBlockedUntil, now + waitMs / this.timeScale);
    this.importPace.slowDown(now, 1_000 / this.timeScale);
  }

  /** A success: recover both paces gradually (additive increase), up to their ceilings. */
  succeeded(now: number): void {
    const relaxMs = this.ceilingRelaxMs / this.timeScale;
    this.requestPace.succeeded(now, relaxMs);
    this.importPace.succeeded(now, relaxMs);
  }

  /** The pace now, as a fraction of the configured rates (share × the slower of the two throttles). */
  get utilisation(): number {
    return this.share * Math.min(this.requestPace.throttle, this.importPace.throttle);
  }
}

/**
 * One throttle: halved on each refusal, recovering by 2% per success up to a ceiling of 80% of the pace that
 * tripped it; the ceiling itself relaxes by 5% per quiet `relaxMs`. Refusals within `sameMs` of each other
 * (requests already in flight) lower the ceiling once.
 */
class Pace {
  throttle = 1;
  private ceiling = 1;
  private lastThrottleAt = -Infinity;

  slowDown(now: number, sameMs: number): void {
    if (now - this.lastThrottleAt > sameMs) this.ceiling = Math.max(0.1, this.throttle * 0.8);
    this.throttle = Math.max(0.05, this.throttle * 0.5);
    this.lastThrottleAt = now;
  }

  succeeded(now: number, relaxMs: number): void {
    const quiet = now - this.lastThrottleAt;
    if (this.ceiling < 1 && quiet >= relaxMs) {
      this.ceiling = Math.min(1, this.ceiling + 0.05);
      this.lastThrottleAt = now - quiet + relaxMs;
    }
    this.throttle = Math.min(this.ceiling, this.throttle + 0.02);
  }
}
