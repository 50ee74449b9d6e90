/**
 * When to poll an accepted import, learnt from the run's own answers. Pure: elapsed times come in as arguments.
 *
 * Each poll is a request from the same budget as the imports, so the aim is one poll per import: the first poll
 * goes at `firstAfter`, an estimate of the `target` quantile of the completion latency (how long after acceptance
 * an import answers `completed`). The estimate follows the answers of first polls alone, in log space (a
 * stochastic-approximation quantile tracker): it shrinks by `step` after a first poll that found the import
 * completed and grows by `step × target / (1 − target)` after one that did not, which balances exactly when a
 * share `target` of first polls find their import done. So it learns a latency it is told nothing about, follows a
 * latency that drifts, and keeps probing a little earlier, which is how it finds that imports got faster.
 *
 * An import not done at its first poll is polled again at 1.5× its age (the tail of a heavy-tailed latency is
 * long: a fixed interval would spend many polls on it), at least `minWaitMs` and at most `maxWaitMs` later.
 * The confirmation deadline (confirmations.ts) bounds every wait: the estimate never passes half of it.
 */
export interface PollTimingOptions {
  /** The first estimate (delivery.pollIntervalMs) and the shortest wait between two polls of one import. */
  initialMs: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** The estimate stays at or below this (half of delivery.confirmTimeoutMs). */
  maxFirstMs: number;
  /** Share of first polls meant to find their import completed. */
  target: number;
  /** Relative change of the estimate after a first poll that found the import done. */
  step: number;
}

export const POLL_TARGET = 0.95;
export const POLL_STEP = 0.02;

export class PollTiming {
  private estimate: number;

  constructor(private readonly o: PollTimingOptions) {
    this.estimate = Math.min(o.maxFirstMs, Math.max(o.minWaitMs, o.initialMs));
  }

  /** How long after acceptance to poll an import first. */
  get firstAfter(): number {
    return this.estimate;
  }

  /** A first poll `elapsedMs` after acceptance found the import `done` (completed, or a final failure) or not. */
  firstAnswer(elapsedMs: number, done: boolean): void {
    // A first poll that went late (the budget held it) and found the import done says nothing about the estimate.
    if (done && elapsedMs > this.estimate * (1 + this.up)) return;
    const factor = done ? 1 - this.o.step : 1 + this.up;
    this.estimate = Math.min(this.o.maxFirstMs, Math.max(this.o.minWaitMs, this.estimate * factor));
  }

  /** The wait before polling again an import not done `elapsedMs` after acceptance. */
  againAfter(elapsedMs: number): number {
    return Math.min(this.o.maxWaitMs, Math.max(this.o.minWaitMs, elapsedMs * 0.5));
  }

  private get up(): number {
    return (this.o.step * this.o.target) / (1 - this.o.target);
  }
}
