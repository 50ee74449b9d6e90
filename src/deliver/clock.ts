/**
 * The time and chance that delivery runs on, injected: tests drive the scheduler with a virtual clock, and the
 * benchmark and the demo run it faster with `scaledClock` (delivery.timeScale) instead of a factor threaded
 * through every wait.
 */
export interface Clock {
  /** Scheduler time in ms: every wait, deadline and budget is measured on it. */
  now(): number;
  /** Epoch ms for what leaves the process (ledger records, compared with ActiveCampaign's dates): real time. */
  epoch(): number;
  /** A duration the server measured in real time (Retry-After), in this clock's ms. */
  fromReal(ms: number): number;
  /** Runs `fn` after `ms` of this clock's time. */
  after(ms: number, fn: () => void): Timer;
}

export interface Timer {
  cancel(): void;
}

/** The random source of jitter, one type with the backoff helper. */
export type { Random } from '../domain/backoff.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  epoch: () => Date.now(),
  fromReal: (ms) => ms,
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * Time `scale` times faster than `base` (the benchmark's and the demo's delivery.timeScale): a minute of budget
 * lasts 60/scale real seconds. Epoch time stays real, so ledger windows still compare with the server's dates.
 */
export function scaledClock(scale: number, base: Clock = systemClock): Clock {
  if (scale === 1) return base;
  const start = base.now();
  return {
    now: () => start + (base.now() - start) * scale,
    epoch: () => base.epoch(),
    fromReal: (ms) => ms * scale,
    after: (ms, fn) => base.after(ms / scale, fn),
  };
}

/** A clock driven by a function (a test's manual clock); its timers are real and fire after `ms` real ms. */
export function clockOf(now: () => number): Clock {
  return { now, epoch: now, fromReal: (ms) => ms, after: systemClock.after };
}
