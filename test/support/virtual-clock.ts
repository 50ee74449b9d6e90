import type { Clock } from '../../src/kafka/clock.js';

/** A clock that moves only when the test says so: sleepers wake in time order as it advances. */
export class VirtualClock implements Clock {
  private t = 0;
  private timers: { at: number; wake: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const timer = {
        at: this.t + ms,
        wake: () => {
          this.timers = this.timers.filter((x) => x !== timer);
          signal?.removeEventListener('abort', timer.wake);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', timer.wake, { once: true });
    });
  }

  /** Durations of the sleeps under way, from now. */
  get sleeps(): number[] {
    return this.timers.map((x) => x.at - this.t).sort((a, b) => a - b);
  }

  advance(ms: number): void {
    this.t += ms;
    for (const timer of [...this.timers].sort((a, b) => a.at - b.at)) if (timer.at <= this.t) timer.wake();
  }

  /** Moves to the earliest sleep's end and wakes it (and any due with it). */
  next(): void {
    const at = Math.min(...this.timers.map((x) => x.at));
    if (Number.isFinite(at)) this.advance(Math.max(0, at - this.t));
  }
}

/** Lets queued callbacks and I/O run until `check` holds (a bounded number of event-loop turns, no wall time). */
export async function until(check: () => boolean, what: string, turns = 2_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}
