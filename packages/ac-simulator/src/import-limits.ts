/**
 * The per-minute bulk import budgets (CONTRACT.md §2: 100 multi-contact and 20 single-contact imports a minute),
 * pure, with `now` passed in. AC documents the numbers, not the algorithm, so the simulator offers three
 * [UNCONFIRMED]: a sliding window, fixed windows aligned to when the limiter started, and a token bucket that
 * holds `limit` tokens and refills `limit` per window. The last two admit more than `limit` in some 60 s span
 * (up to 2 × limit across a fixed-window boundary), which is why ImportAudit checks every sliding window
 * independently of the limiter in force.
 */
export type ImportLimiterKind = 'sliding' | 'fixed' | 'token-bucket';

export interface WindowLimit {
  /** Would a request at `now` be admitted? Does not change anything. */
  wouldAdmit(now: number): boolean;
  /** Admit (and count) a request at `now`, or refuse it. */
  tryAcquire(now: number): boolean;
  reconfigure(limit: number, windowMs: number): void;
}

export class SlidingWindow implements WindowLimit {
  /** Times of the admitted requests, oldest first. */
  private readonly admitted: number[] = [];

  constructor(
    private limit: number,
    private windowMs: number,
  ) {}

  reconfigure(limit: number, windowMs: number): void {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  wouldAdmit(now: number): boolean {
    const from = now - this.windowMs;
    let inWindow = 0;
    for (let i = this.admitted.length - 1; i >= 0 && (this.admitted[i] ?? 0) > from; i--) inWindow++;
    return inWindow < this.limit;
  }

  tryAcquire(now: number): boolean {
    while (this.admitted.length > 0 && (this.admitted[0] ?? 0) <= now - this.windowMs) this.admitted.shift();
    if (!this.wouldAdmit(now)) return false;
    // Requests are judged at arrival but only once their bodies are read, so times come almost, not quite, in order.
    let i = this.admitted.length;
    while (i > 0 && (this.admitted[i - 1] ?? 0) > now) i--;
    this.admitted.splice(i, 0, now);
    return true;
  }
}

/** Windows [origin + k·windowMs, origin + (k+1)·windowMs), each with its own count. */
export class FixedWindow implements WindowLimit {
  private index = 0;
  private count = 0;

  constructor(
    private limit: number,
    private windowMs: number,
    private readonly origin: number,
  ) {}

  reconfigure(limit: number, windowMs: number): void {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  private indexAt(now: number): number {
    return Math.floor((now - this.origin) / this.windowMs);
  }

  wouldAdmit(now: number): boolean {
    return (this.indexAt(now) === this.index ? this.count : 0) < this.limit;
  }

  tryAcquire(now: number): boolean {
    const index = this.indexAt(now);
    if (index > this.index) [this.index, this.count] = [index, 0];
    if (this.count >= this.limit) return false;
    this.count++;
    return true;
  }
}

/** A bucket of `limit` tokens refilled at `limit` per window; starts full. */
export class WindowBucket implements WindowLimit {
  private tokens: number;

  constructor(
    private limit: number,
    private windowMs: number,
    private last: number,
  ) {
    this.tokens = limit;
  }

  reconfigure(limit: number, windowMs: number): void {
    this.limit = limit;
    this.windowMs = windowMs;
    this.tokens = Math.min(this.tokens, limit);
  }

  private tokensAt(now: number): number {
    return Math.min(this.limit, this.tokens + (Math.max(0, now - this.last) * this.limit) / this.windowMs);
  }

  wouldAdmit(now: number): boolean {
    return this.tokensAt(now) >= 1 - 1e-9;
  }

  tryAcquire(now: number): boolean {
    this.tokens = this.tokensAt(now);
    this.last = Math.max(this.last, now);
    if (this.tokens < 1 - 1e-9) return false;
    this.tokens = Math.max(0, this.tokens - 1);
    return true;
  }
}

export function windowLimit(kind: ImportLimiterKind, limit: number, windowMs: number, now: number): WindowLimit {
  if (kind === 'fixed') return new FixedWindow(limit, windowMs, now);
  if (kind === 'token-bucket') return new WindowBucket(limit, windowMs, now);
  return new SlidingWindow(limit, windowMs);
}

/** What ImportAudit reports, in the snapshot's counters.importWindows. */
export interface ImportWindowReport {
  /** The audited span: 60 s divided by the time scale. */
  windowMs: number;
  /** Thresholds: limits.bulkMultiPerMinute (for all imports together) and limits.bulkSinglePerMinute. */
  allLimit: number;
  singleLimit: number;
  /** The most imports (single + multi), and single-contact imports, seen in any one window. */
  maxInWindow: number;
  maxSingleInWindow: number;
  /** Imports that arrived when the window ending with them held more than allLimit (singleLimit) of them. */
  overAll: number;
  overSingle: number;
}

/**
 * The checker: every bulk import request that reached the per-minute budgets (refused or not, whatever limiter
 * and scope are in force) is recorded, and each arrival looks at the window ending with it. Every 60 s span
 * holding more than the threshold ends with an arrival that sees it, so overAll = 0 means "never more than
 * allLimit imports in any 60 s window".
 */
export class ImportAudit {
  private readonly all: number[] = [];
  private readonly single: number[] = [];
  private report: ImportWindowReport;

  constructor(windowMs: number, allLimit: number, singleLimit: number) {
    this.report = { windowMs, allLimit, singleLimit, maxInWindow: 0, maxSingleInWindow: 0, overAll: 0, overSingle: 0 };
  }

  reconfigure(windowMs: number, allLimit: number, singleLimit: number): void {
    this.report = { ...this.report, windowMs, allLimit, singleLimit };
  }

  record(kind: 'single' | 'multi', now: number): void {
    const r = this.report;
    const inAll = this.push(this.all, now);
    r.maxInWindow = Math.max(r.maxInWindow, inAll);
    if (inAll > r.allLimit) r.overAll++;
    if (kind === 'multi') return;
    const inSingle = this.push(this.single, now);
    r.maxSingleInWindow = Math.max(r.maxSingleInWindow, inSingle);
    if (inSingle > r.singleLimit) r.overSingle++;
  }

  snapshot(): ImportWindowReport {
    return { ...this.report };
  }

  /** Adds `now`, forgets times outside the window ending at `now`, returns how many are in it. */
  private push(times: number[], now: number): number {
    let i = times.length;
    while (i > 0 && (times[i - 1] ?? 0) > now) i--;
    times.splice(i, 0, now);
    const from = now - this.report.windowMs;
    while (times.length > 0 && (times[0] ?? 0) <= from) times.shift();
    let n = 0;
    for (const t of times) if (t > from && t <= now) n++;
    return n;
  }
}
