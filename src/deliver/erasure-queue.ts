import type { Metrics } from '../observability/metrics.js';
import type { AcApi } from './client.js';
import type { Clock } from './clock.js';
import type { Verdict } from './classify.js';
import { ErasureJob } from './erasure.js';
import { oneRequest } from './flight.js';
import type { DeliveryOutcomes } from './outcomes.js';

/** What the erasure jobs need of their account. */
export interface ErasureDeps<R> {
  name: string;
  client: AcApi;
  clock: Clock;
  metrics: Metrics;
  outcomes: DeliveryOutcomes<R>;
  /** The account's effects (effects.ts): a step told to wait (a 429, a failing account), an answer. */
  fx: () => {
    waited(v: Exclude<Verdict, { kind: 'ok' }>, now: number): number;
    sending(): number;
    up(now: number, sent: number): void;
  };
  /** The email's changes are held back (never cut) while its erasure is under way; in flight: an import holds it. */
  buffer: { block(email: string): void; unblock(email: string): void; inFlight(email: string): boolean };
  wake: () => void;
  /**
   * The contact of these emails is gone from ActiveCampaign:
   * the member reads stop answering for them (lookup-queue.ts).
   */
  contactsChanged: (emails: readonly string[]) => void;
}

/**
 * The erasure requests of one account (erasure.ts holds one job's steps), in arrival order. An erasure holds its
 * email's buffered changes back until it ends, and deletes the contact once its write-ahead ledger marker is
 * acknowledged and no import (or lookup, re-entry) holding the email is in the air, so that no import re-creates
 * it. A rejected marker drops the erasure unsettled: its event is fetched again.
 */
export class ErasureQueue<R> {
  private jobs: ErasureJob<R>[] = [];

  constructor(private readonly deps: ErasureDeps<R>) {}

  get size(): number {
    return this.jobs.length;
  }

  add(email: string, occurredAt: number, ref: R, ahead?: Promise<void>): void {
    const job = new ErasureJob<R>(email, occurredAt, ref, ahead === undefined);
    this.jobs.push(job);
    this.deps.buffer.block(email);
    ahead?.then(
      () => {
        job.armed = true;
        this.deps.wake();
      },
      () => this.end(job),
    );
    this.deps.wake();
  }

  /** Rebalance: erasures of partitions this member lost end here (their events are fetched again). Their refs. */
  dropRevoked(revoked: (ref: R) => boolean): R[] {
    const dropped: R[] = [];
    for (const job of this.jobs.filter((j) => revoked(j.ref))) {
      this.end(job);
      dropped.push(job.ref);
    }
    return dropped;
  }

  /** Starts due steps while `slot` (the loop's budget and concurrency) allows; returns when to look again. */
  dispatch(now: number, slot: (now: number) => number | true, flight: { requests: number }): number {
    let wakeAt = Infinity;
    for (const job of [...this.jobs]) {
      if (job.busy || !job.armed || this.deps.buffer.inFlight(job.email)) continue;
      if (job.notBefore > now) {
        wakeAt = Math.min(wakeAt, job.notBefore);
        continue;
      }
      const s = slot(now);
      if (s !== true) return Math.min(wakeAt, s);
      void this.step(job, flight);
    }
    return wakeAt;
  }

  private async step(job: ErasureJob<R>, flight: { requests: number }): Promise<void> {
    const d = this.deps;
    const sent = d.fx().sending();
    const r = await oneRequest(job, flight, () => job.step(d.client));
    const now = d.clock.now();
    const connection = d.name;
    if (r.kind === 'wait') {
      const v = r.verdict;
      job.notBefore = d.fx().waited(v, now);
      d.metrics.retries.inc({ connection, reason: v.kind === 'throttled' ? v.code : 'ERASURE' });
    } else {
      d.fx().up(now, sent);
      if (r.kind === 'done') {
        // Deleted, or not there: a member read from before would still say "found",
        // and the remove's import re-create it.
        d.contactsChanged([job.email]);
        d.metrics.erasures.inc({ connection, result: r.result });
        d.outcomes.erased(connection, {
          email: job.email,
          occurredAt: job.occurredAt,
          ref: job.ref,
          result: r.result,
          at: d.clock.epoch(),
        });
        this.end(job);
      } else if (r.kind === 'refused') {
        d.metrics.erasures.inc({ connection, result: 'refused' });
        d.outcomes.dead([job.ref], 'deliver', 'ERASE_REFUSED', r.message);
        this.end(job);
      }
    }
    d.wake();
  }

  private end(job: ErasureJob<R>): void {
    const i = this.jobs.indexOf(job);
    if (i < 0) return;
    this.jobs.splice(i, 1);
    this.deps.buffer.unblock(job.email);
    this.deps.wake();
  }
}
