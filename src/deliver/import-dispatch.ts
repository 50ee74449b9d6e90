import { bodyOf, type Batch, type ContactBuffer, type FlushTrigger } from '../buffer/contact-buffer.js';
import type { ContactEntry } from '../buffer/contact-entry.js';
import type { Metrics } from '../observability/metrics.js';
import type { RateBudget } from './budget.js';
import type { Clock } from './clock.js';
import type { AccountEffects } from './effects.js';
import type { Flight } from './flight.js';
import { appliedChange, type DeliveryGate, type DeliveryOutcomes } from './outcomes.js';
import { importKind, pickImport } from './pick.js';
import { needsLookup, planCut } from './plan.js';
import type { ReentryItem } from './reentry.js';

/** What the import dispatch needs of its account (account-delivery.ts wires it). */
export interface ImportDeps<R> {
  name: string;
  limits: { maxContacts: number; maxBytes: number };
  maxConcurrentRequests: number;
  maxUnconfirmed: number;
  clock: Clock;
  buffer: ContactBuffer<R>;
  budget: RateBudget;
  /** The ledger's say before sending (plan.ts); without it everything is imported. */
  gate: DeliveryGate<R> | undefined;
  /** Halves of bisected batches, sent before anything buffered. */
  bisectQueue: ContactEntry<R>[][];
  flight: Flight;
  /** Imports accepted and not yet confirmed (confirmations.ts). */
  confirms: { readonly size: number };
  outcomes: Pick<DeliveryOutcomes<R>, 'skipped'>;
  metrics: Pick<Metrics, 'flushes' | 'budgetWaitSeconds'>;
  fx: Pick<AccountEffects<R>, 'fail' | 'record'>;
  /** A re-entry found nothing to reverse last time: it goes by plain import (reentry-queue.ts). */
  takePlain: (email: string, listId: string) => boolean;
  /** Entries of removes only that a lookup must find first (never empty); the loop queues them and looks again. */
  lookup: (entries: ContactEntry<R>[]) => void;
  /** Sends the bulk import (requests.ts); the budget is spent. */
  send: (batch: Batch<R>, resubscribe: Map<string, ReentryItem<R>[]>) => Promise<void>;
}

/**
 * The account's imports, dispatched: the next import is picked (pick.ts), cut from the buffer or the bisect queue,
 * given the ledger's say (plan.ts), checked against the budget once more, and sent. Time comes from the clock.
 */
export class ImportDispatch<R> {
  /** Since when a due import has been held back by the budget alone (rate_budget_wait_seconds_total). */
  private budgetBlockedAt: number | undefined;

  constructor(private readonly d: ImportDeps<R>) {}

  /** Sends imports while there is work, budget and room for unconfirmed imports; returns when to look again. */
  dispatch(now: number, draining: FlushTrigger | undefined): number {
    const d = this.d;
    for (;;) {
      const epoch = d.clock.epoch();
      const dueAt = d.buffer.dueAt();
      const pick = pickImport({
        now,
        requests: d.flight.requests,
        maxConcurrentRequests: d.maxConcurrentRequests,
        inAir: d.confirms.size + d.flight.sending,
        maxUnconfirmed: d.maxUnconfirmed,
        bisectHead: d.bisectQueue[0]?.length,
        draining,
        due: d.buffer.due(epoch),
        dueAt: dueAt === undefined ? undefined : now + d.clock.fromReal(dueAt - epoch),
        readyContacts: d.buffer.readyContacts,
        maxContacts: d.limits.maxContacts,
        readyAt: (kind, partial) => d.budget.readyAt(kind, now, partial),
      });
      if (pick.kind === 'idle') {
        if (!pick.due) this.budgetBlockedAt = undefined; // nothing is due: no wait on the budget to count
        return pick.wakeAt;
      }
      if (pick.kind === 'budget') {
        this.budgetBlockedAt ??= now;
        return pick.wakeAt;
      }
      let batch: Batch<R> | undefined;
      if (pick.source === 'bisect') {
        const entries = d.bisectQueue.shift()!;
        batch = { entries, ...bodyOf(entries), trigger: 'retry' };
      } else {
        const cut = d.buffer.take(pick.trigger, undefined, (e) => needsLookup(e, d.gate, d.name));
        if (cut.aside) d.lookup(cut.aside);
        if (cut.oversize) {
          d.fx.fail(
            cut.oversize,
            'deliver',
            'CONTACT_TOO_LARGE',
            `one contact serializes to ${cut.oversize.bytes} bytes, over the ${d.limits.maxBytes}-byte request limit`,
          );
          continue;
        }
        batch = cut.batch;
      }
      if (!batch) return Infinity;
      const plan = this.plan(batch.entries);
      if (plan.entries.length === 0) continue;
      // Stale or refused changes left out (or contacts set aside for a lookup) may turn a multi-contact import
      // into a single-contact one, or a full one into a partial one, which keeps to the even pace (budget.ts).
      const sending = importKind(plan.entries.length);
      const partial =
        pick.source === 'buffer' &&
        (batch.trigger === 'size' || batch.trigger === 'age') &&
        plan.entries.length < d.limits.maxContacts;
      const readyAt = d.budget.readyAt(sending, now, partial);
      if (readyAt > now) {
        d.buffer.requeue(plan.entries);
        return readyAt;
      }
      if (plan.entries.length !== batch.entries.length || plan.resubscribe.size)
        batch = { entries: plan.entries, ...bodyOf(plan.entries), trigger: batch.trigger };
      const slot = d.budget.spend(sending, now);
      this.recordBudgetWait(now);
      d.metrics.flushes.inc({ connection: d.name, trigger: batch.trigger });
      // The import's per-minute slot frees 60 s after its answer (budget.ts): it arrived before that answer.
      void d.send(batch, plan.resubscribe).finally(() => slot.answered(d.clock.now()));
    }
  }

  private recordBudgetWait(now: number): void {
    if (this.budgetBlockedAt === undefined) return;
    this.d.metrics.budgetWaitSeconds.inc({ connection: this.d.name }, Math.max(0, now - this.budgetBlockedAt) / 1000);
    this.budgetBlockedAt = undefined;
  }

  /**
   * The ledger's say on a batch just cut (plan.ts), carried out: stale refs settle, refused re-entries are recorded.
   */
  private plan(entries: ContactEntry<R>[]) {
    const d = this.d;
    const at = d.clock.epoch();
    const plan = planCut(entries, d.gate, d.name, d.takePlain);
    if (plan.stale.length) d.outcomes.skipped(plan.stale, 'stale');
    d.fx.record(
      plan.refused.map(({ email, listId, change, refused }) => appliedChange(email, listId, change, at, at, refused)),
    );
    if (plan.dropped.length) d.buffer.release(plan.dropped.map((e) => e.email));
    if (plan.lookup.length) d.lookup(plan.lookup);
    return plan;
  }
}
