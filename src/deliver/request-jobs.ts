import type { RateBudget } from './budget.js';
import type { Unconfirmed } from './confirmations.js';
import type { AccountEffects } from './effects.js';
import type { ReentryQueue } from './reentry-queue.js';
import type { AccountRequests, Flight } from './requests.js';

/** A queue of single requests that takes request slots while the budget allows (untag-, lookup-, erasure-queue.ts). */
export interface SlotQueue {
  dispatch(now: number, slot: (now: number) => number | true, flight: { requests: number }): number;
}

export interface RequestJobsHost<R> {
  budget: RateBudget;
  flight: Flight;
  maxConcurrentRequests: number;
  io: AccountRequests<R>;
  fx: AccountEffects<R>;
  reentries: ReentryQueue<R>;
  /** Taken in this order after the polls and re-entries: tag removals, lookups, erasure steps. */
  queues: readonly SlotQueue[];
}

/**
 * The account's requests other than imports, in the order they take request slots: polls of unconfirmed
 * imports, re-entry steps, then the single-request queues. Imports go first (import-dispatch.ts): the import
 * window is the account's ceiling, and a poll can wait a slot. Each dispatch returns when to look again.
 */
export class RequestJobs<R> {
  constructor(private readonly h: RequestJobsHost<R>) {}

  dispatch(now: number, due: { polls: Unconfirmed<R>[]; wakeAt: number }): number {
    let wakeAt = Math.min(this.polls(now, due), this.reentries(now));
    for (const q of this.h.queues)
      wakeAt = Math.min(
        wakeAt,
        q.dispatch(now, (t) => this.slot(t), this.h.flight),
      );
    return wakeAt;
  }

  /** Whether one more request may go now; otherwise when to look again (Infinity: when a request returns). */
  private slot(now: number): number | true {
    if (this.h.flight.requests >= this.h.maxConcurrentRequests) return Infinity;
    const ready = this.h.budget.readyAt('request', now);
    if (ready > now) return ready;
    this.h.budget.spend('request', now);
    return true;
  }

  private polls(now: number, { polls, wakeAt }: { polls: Unconfirmed<R>[]; wakeAt: number }): number {
    for (const u of polls) {
      const slot = this.slot(now);
      if (slot !== true) return Math.min(wakeAt, slot);
      void this.h.io.poll(u);
    }
    return wakeAt;
  }

  private reentries(now: number): number {
    const { ready, finished, wakeAt } = this.h.reentries.due(now);
    for (const job of finished) this.h.fx.reentryDone(job, job.result());
    for (const job of ready) {
      const slot = this.slot(now);
      if (slot !== true) return Math.min(wakeAt, slot);
      void this.h.io.reentryStep(job);
    }
    return wakeAt;
  }
}
