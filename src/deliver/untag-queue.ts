import type { Logger } from 'pino';
import type { ContactEntry } from '../buffer/contact-entry.js';
import { maskEmail } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { AcApi } from './client.js';
import type { Clock } from './clock.js';
import type { Verdict } from './classify.js';
import { oneRequest } from './flight.js';
import type { DeliveryGate } from './outcomes.js';
import { UntagJob, untagsOf, type TagIds } from './untag.js';

/** What the untag jobs need of their account: the loop's effects for a throttled or failing account, and release. */
export interface UntagDeps {
  name: string;
  client: AcApi;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  /** The account's effects (effects.ts): a step told to wait (a 429, a failing account), an answer. */
  fx: () => {
    waited(v: Exclude<Verdict, { kind: 'ok' }>, now: number): number;
    sending(): number;
    up(now: number, sent: number): void;
  };
  /** The job's email may go again (its newer changes were held while its tags were removed). */
  buffer: { release(emails: string[]): void };
  wake: () => void;
}

/**
 * The tag removals that follow confirmed leaves (untag.ts), queued per account. A job holds its email in flight,
 * like a re-entry, so that a re-join cut meanwhile never gets its new tag removed by the leave before it.
 */
export class UntagQueue<R> {
  private readonly jobs: UntagJob[] = [];
  private readonly tagIds: TagIds = new Map();

  constructor(
    private readonly untagLists: ReadonlySet<string>,
    private readonly gate: DeliveryGate<R> | undefined,
    private readonly deps: UntagDeps,
  ) {}

  get size(): number {
    return this.jobs.length;
  }

  /**
   * A completed import: jobs for its contacts' leaves that remove tags. Returns the emails now held by a job;
   * `held` are emails something else (a re-entry) holds already: their job runs without holding them.
   */
  afterImport(
    entries: readonly ContactEntry<R>[],
    failure: ReadonlySet<string>,
    held: ReadonlySet<string>,
  ): Set<string> {
    const given = (email: string, listId: string, ref: R) =>
      this.gate?.givenTags?.(this.deps.name, email, listId, ref) ?? new Set<string>();
    const holding = new Set<string>();
    for (const [email, tags] of untagsOf(entries, failure, this.untagLists, given)) {
      const holds = !held.has(email);
      this.jobs.push(new UntagJob(email, tags, this.tagIds, holds));
      if (holds) holding.add(email);
    }
    return holding;
  }

  /** Jobs that may make their next request now, and when the others may. */
  due(now: number): { ready: UntagJob[]; wakeAt: number } {
    let wakeAt = Infinity;
    const ready: UntagJob[] = [];
    for (const job of this.jobs) {
      if (job.busy) continue;
      if (job.notBefore > now) wakeAt = Math.min(wakeAt, job.notBefore);
      else ready.push(job);
    }
    return { ready, wakeAt };
  }

  /**
   * Starts the due jobs' next requests while `slot` (the loop's budget and concurrency) allows;
   * returns when to look again.
   */
  dispatch(now: number, slot: (now: number) => number | true, flight: { requests: number }): number {
    const { ready, wakeAt } = this.due(now);
    for (const job of ready) {
      const s = slot(now);
      if (s !== true) return Math.min(wakeAt, s);
      void this.step(job, flight);
    }
    return wakeAt;
  }

  /** One request of `job` (the loop spent the budget for it). */
  async step(job: UntagJob, flight: { requests: number }): Promise<void> {
    const d = this.deps;
    const sent = d.fx().sending();
    const r = await oneRequest(job, flight, () => job.step(d.client));
    const now = d.clock.now();
    if (r.kind === 'wait') {
      job.notBefore = d.fx().waited(r.verdict, now);
    } else {
      d.fx().up(now, sent);
      if (r.kind === 'done') {
        this.jobs.splice(this.jobs.indexOf(job), 1);
        d.metrics.tagRemovals.inc({ connection: d.name, result: r.result });
        if (r.result === 'failed')
          d.log.warn(
            { email: maskEmail(job.email), reason: r.message },
            'The tags of an export the contact left could not be removed; the leave itself is confirmed',
          );
        if (job.holds) d.buffer.release([job.email]);
      }
    }
    d.wake();
  }
}
