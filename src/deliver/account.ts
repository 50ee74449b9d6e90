import type { Logger } from 'pino';
import { bodyOf, ContactBuffer, type Batch, type FlushTrigger } from '../buffer/contact-buffer.js';
import type { ContactEntry, ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import type { Metrics } from '../observability/metrics.js';
import { AccountEffects } from './effects.js';
import { AccountRequests, type Flight } from './requests.js';
import type { RateBudget } from './budget.js';
import type { AcApi } from './client.js';
import { systemClock, type Clock, type Random, type Timer } from './clock.js';
import type { AccountOptions } from './account-options.js';
import { Confirmations, type Unconfirmed } from './confirmations.js';
import { LateImports } from './late-imports.js';
import { AccountHealth } from './health.js';
import { appliedChange, type DeliveryGate, type DeliveryOutcomes } from './outcomes.js';
import { importKind, pickImport } from './pick.js';
import { needsLookup, planCut } from './plan.js';
import { ReentryQueue } from './reentry-queue.js';
import { ErasureQueue } from './erasure-queue.js';
import { EmailChanges } from './email-changes.js';
import { UntagQueue } from './untag-queue.js';

export type { AppliedChange } from './outcomes.js';
export type { AccountOptions } from './account-options.js';

/**
 * Delivery for one ActiveCampaign account: buffer → rate budget → bulk import → confirmation. One scheduler
 * (tick) decides what may go now; requests run concurrently up to a bound; nothing blocks the consumer.
 * Composition: budget (rate limit) → client (timeout) → verdict → retry (requeue) or dead-letter (fallback).
 * The decisions are pure parts: pick.ts (the next import), plan.ts (the ledger's say on a cut), answer.ts (a
 * bulk answer's actions), confirmations.ts (deadline, resubmits), reentry-queue.ts, health.ts; this loop only
 * carries them out.
 */
export class AccountDelivery<R> {
  readonly buffer: ContactBuffer<R>;
  readonly budget: RateBudget;
  private readonly confirms: Confirmations<R>;
  private readonly reentries: ReentryQueue<R>;
  /** Abandoned imports that may still complete over newer changes (their newest state is then sent again). */
  private readonly late = new LateImports<R>();
  private readonly untags: UntagQueue<R>;
  private readonly health: AccountHealth;
  private readonly fx: AccountEffects<R>;
  private readonly bisectQueue: ContactEntry<R>[][] = [];
  /** Entries of removes only whose contact neither the ledger nor a lookup knows: GET /contacts?email= first. */
  private readonly lookups: { entry: ContactEntry<R>; notBefore: number }[] = [];
  private readonly flight: Flight = { requests: 0, sending: 0 };
  /** Erasure requests under way (erasure-queue.ts). */
  private readonly erasures: ErasureQueue<R>;
  private readonly io: AccountRequests<R>;
  private timer: Timer | undefined;
  private scheduled = false;
  private draining: FlushTrigger | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Email changes of profiles (PUT /contacts/{id}); undefined when off. */
  readonly emails: EmailChanges<R> | undefined;

  constructor(
    private readonly opts: AccountOptions,
    budget: RateBudget,
    private readonly client: AcApi,
    private readonly outcomes: DeliveryOutcomes<R>,
    private readonly metrics: Metrics,
    log: Logger,
    private readonly clock: Clock = systemClock,
    /** The ledger's say before sending (route, intents) and which refs still count; without it everything is imported. */
    private readonly gate?: DeliveryGate<R>,
    random: Random = Math.random,
  ) {
    this.buffer = new ContactBuffer<R>(opts.limits);
    this.budget = budget;
    this.confirms = new Confirmations<R>(opts);
    this.reentries = new ReentryQueue<R>(() => this.clock.epoch(), opts.repeatUnsubscribeMovesUdate);
    this.health = new AccountHealth(opts.maxBackoffMs, random);
    const { name, maxImportResubmits } = opts;
    const deps = { name, client, clock, metrics, log, fx: () => this.fx, health: this.health, buffer: this.buffer, wake: () => this.wake() };
    this.untags = new UntagQueue<R>(opts.untagLists ?? new Set(), gate, deps);
    this.erasures = new ErasureQueue<R>({ ...deps, outcomes });
    this.fx = new AccountEffects<R>({ name, maxImportResubmits, buffer: this.buffer, budget, confirms: this.confirms, reentries: this.reentries, late: this.late, untags: this.untags, health: this.health, clock, outcomes, metrics, log });
    const shared = { buffer: this.buffer, confirms: this.confirms, late: this.late, health: this.health, bisectQueue: this.bisectQueue, clock, outcomes, metrics, log };
    this.io = new AccountRequests<R>({ name, settleOnAccept: opts.settleOnAccept, client, gate, ...shared, wake: () => this.wake() }, this.flight, this.fx);
    const maxProfiles = opts.maxProfiles ?? 250_000;
    if (maxProfiles > 0) this.emails = new EmailChanges<R>({ budget, clock, client, outcomes, add: (u) => this.add(u), holds: (e) => this.buffer.holds(e), log, maxProfiles, onIdle: () => this.wake(), onResult: (result) => metrics.emailChanges.inc({ connection: name, result }) });
  }

  /** A change of the profile `profileId`: held behind an email change of that profile, if one is under way. */
  addFor(profileId: string, update: ContactUpdate<R>): MergeOutcome {
    return this.emails ? this.emails.add(profileId, update) : this.add(update);
  }

  /** The time the budget runs on (ProbedAccount): readiness probes pay from the same budget. */
  budgetNow(): number {
    return this.clock.now();
  }

  add(update: ContactUpdate<R>): MergeOutcome {
    // The linger is the buffer's, in real time: a faster clock (the benchmark) must not cut smaller batches.
    const outcome = this.buffer.add(update, this.clock.epoch());
    // Superseded by a change already sent: with settleOnAccept that change may have settled already.
    if (outcome === 'superseded-in-flight' && this.opts.settleOnAccept) this.outcomes.accepted([update.ref], this.clock.epoch(), true);
    this.wake();
    return outcome;
  }

  /** An erasure request for this account (erasure-queue.ts); `ahead` is its write-ahead ledger marker. */
  erase(email: string, occurredAt: number, ref: R, ahead?: Promise<void>): void {
    this.erasures.add(email, occurredAt, ref, ahead);
  }

  /** Flush everything regardless of linger (shutdown, rebalance), until drain() is called again with undefined. */
  drain(trigger: FlushTrigger | undefined): void {
    this.draining = trigger;
    this.wake();
  }

  get idle(): boolean {
    return this.buffer.contacts === 0 && (this.emails?.holding ?? 0) === 0 && this.confirms.size === 0 && this.flight.sending === 0 && this.bisectQueue.length === 0 && this.reentries.size === 0 && this.untags.size === 0 && this.lookups.length === 0 && this.erasures.size === 0;
  }

  get down(): boolean {
    return this.health.down;
  }

  /** Resolves when nothing is buffered, sending or unconfirmed. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rebalance: drop unsent changes of partitions this member lost. Returns the dropped refs. */
  dropRevoked(revoked: (ref: R) => boolean): R[] {
    const dropped = this.buffer.drop(revoked);
    dropped.push(...this.erasures.dropRevoked(revoked));
    const holds = (email: string) => this.buffer.holds(email);
    this.confirms.prune(holds);
    this.reentries.prune(holds);
    this.fx.updateGauges();
    return dropped;
  }

  /** A rebalance gave this member `fraction` of the source partitions. */
  setPartitionShare(fraction: number): void {
    const base = this.opts.budgetShare === 'partitions' ? fraction : this.opts.budgetShare;
    this.budget.setShare(Math.max(0.001, base * (1 - this.opts.reservedShare)), this.clock.now());
    this.fx.updateGauges();
  }

  close(): void {
    this.closed = true;
    this.emails?.close();
    this.timer?.cancel();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  wake(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.tick();
    });
  }

  private tick(): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = undefined;
    const now = this.clock.now();
    let wakeAt = this.health.pausedUntil;
    if (now >= wakeAt) {
      // Abandoned imports come back to the buffer first; then imports take request slots before polls: the
      // import window is the account's ceiling, and a poll can wait a slot.
      const due = this.confirms.due(now);
      for (const u of due.expired) this.fx.abandon(u, now);
      // Changes an abandoned import that completed late may have overwritten go again (late-imports.ts).
      const reasserts = this.late.ready((email) => this.buffer.holds(email));
      if (reasserts.length) this.fx.reassert(reasserts);
      wakeAt = Math.min(this.dispatchImports(now), this.dispatchPolls(now, due), this.dispatchReentries(now), this.dispatchUntags(now), this.dispatchLookups(now), this.dispatchErasures(now));
    }
    this.fx.updateGauges();
    if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
    if (wakeAt !== Infinity) this.timer = this.clock.after(Math.max(1, wakeAt - this.clock.now()), () => this.tick());
  }

  /** Whether one more request may go now; otherwise when to look again (Infinity: when a request returns). */
  private requestSlot(now: number): number | true {
    if (this.flight.requests >= this.opts.maxConcurrentRequests) return Infinity;
    const ready = this.budget.readyAt('request', now);
    if (ready > now) return ready;
    this.budget.spend('request', now);
    return true;
  }

  /** Polls due imports while the budget allows; returns when to look again. */
  private dispatchPolls(now: number, { polls, wakeAt }: { polls: Unconfirmed<R>[]; wakeAt: number }): number {
    for (const u of polls) {
      const slot = this.requestSlot(now);
      if (slot !== true) return Math.min(wakeAt, slot);
      void this.io.poll(u);
    }
    return wakeAt;
  }

  /** Sends imports while there is work, budget and room for unconfirmed imports; returns when to look again. */
  private dispatchImports(now: number): number {
    for (;;) {
      const epoch = this.clock.epoch();
      const dueAt = this.buffer.dueAt();
      const pick = pickImport({
        now,
        requests: this.flight.requests,
        maxConcurrentRequests: this.opts.maxConcurrentRequests,
        inAir: this.confirms.size + this.flight.sending,
        maxUnconfirmed: this.opts.maxUnconfirmed,
        bisectHead: this.bisectQueue[0]?.length,
        draining: this.draining,
        due: this.buffer.due(epoch),
        dueAt: dueAt === undefined ? undefined : now + this.clock.fromReal(dueAt - epoch),
        readyContacts: this.buffer.readyContacts,
        maxContacts: this.opts.limits.maxContacts,
        readyAt: (kind, partial) => this.budget.readyAt(kind, now, partial),
      });
      if (pick.kind === 'idle') {
        if (!pick.due) this.fx.budgetFree();
        return pick.wakeAt;
      }
      if (pick.kind === 'budget') {
        this.fx.budgetBlocked(now);
        return pick.wakeAt;
      }
      let batch: Batch<R> | undefined;
      if (pick.source === 'bisect') {
        const entries = this.bisectQueue.shift()!;
        batch = { entries, ...bodyOf(entries), trigger: 'retry' };
      } else {
        const cut = this.buffer.take(pick.trigger, undefined, (e) => needsLookup(e, this.gate, this.opts.name));
        for (const entry of cut.aside ?? []) this.lookups.push({ entry, notBefore: 0 });
        if (cut.aside) this.wake();
        if (cut.oversize) {
          this.fx.fail(cut.oversize, 'deliver', 'CONTACT_TOO_LARGE', `one contact serializes to ${cut.oversize.bytes} bytes, over the ${this.opts.limits.maxBytes}-byte request limit`);
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
      const partial = pick.source === 'buffer' && (batch.trigger === 'size' || batch.trigger === 'age') && plan.entries.length < this.opts.limits.maxContacts;
      const readyAt = this.budget.readyAt(sending, now, partial);
      if (readyAt > now) {
        this.buffer.requeue(plan.entries);
        return readyAt;
      }
      if (plan.entries.length !== batch.entries.length || plan.resubscribe.size) batch = { entries: plan.entries, ...bodyOf(plan.entries), trigger: batch.trigger };
      const slot = this.budget.spend(sending, now);
      this.fx.recordBudgetWait(now);
      this.metrics.flushes.inc({ connection: this.opts.name, trigger: batch.trigger });
      // The import's per-minute slot frees 60 s after its answer (budget.ts): it arrived before that answer.
      void this.io.send(batch, plan.resubscribe).finally(() => slot.answered(this.clock.now()));
    }
  }

  /** The ledger's say on a batch just cut (plan.ts), carried out: stale refs settle, refused re-entries are recorded. */
  private plan(entries: ContactEntry<R>[]) {
    const at = this.clock.epoch();
    const plan = planCut(entries, this.gate, this.opts.name, (email, listId) => this.reentries.takePlain(email, listId));
    if (plan.stale.length) this.outcomes.skipped(plan.stale, 'stale');
    this.fx.record(plan.refused.map(({ email, listId, change, refused }) => appliedChange(email, listId, change, at, at, refused)));
    if (plan.dropped.length) this.buffer.release(plan.dropped.map((e) => e.email));
    for (const entry of plan.lookup) this.lookups.push({ entry, notBefore: 0 });
    if (plan.lookup.length) this.wake();
    return plan;
  }

  /** Looks up contacts whose removes would otherwise create them (requests.ts), while the budget allows. */
  private dispatchLookups(now: number): number {
    let wakeAt = Infinity;
    for (const job of [...this.lookups]) {
      if (job.notBefore > now) {
        wakeAt = Math.min(wakeAt, job.notBefore);
        continue;
      }
      const slot = this.requestSlot(now);
      if (slot !== true) return Math.min(wakeAt, slot);
      this.lookups.splice(this.lookups.indexOf(job), 1);
      void this.io.lookup(job.entry, (notBefore) => this.lookups.push({ entry: job.entry, notBefore }));
    }
    return wakeAt;
  }

  /** Runs erasure steps (erasure-queue.ts) while the budget allows; returns when to look again. */
  private dispatchErasures(now: number): number {
    return this.erasures.dispatch(now, (t) => this.requestSlot(t), this.flight);
  }

  /** Runs tag-removal steps (untag-queue.ts) while the budget allows; returns when to look again. */
  private dispatchUntags(now: number): number {
    return this.untags.dispatch(now, (t) => this.requestSlot(t), this.flight);
  }

  /** Runs re-entry steps while the budget allows; returns when to look again. */
  private dispatchReentries(now: number): number {
    const { ready, finished, wakeAt } = this.reentries.due(now);
    for (const job of finished) this.fx.reentryDone(job, job.result());
    for (const job of ready) {
      const slot = this.requestSlot(now);
      if (slot !== true) return Math.min(wakeAt, slot);
      void this.io.reentryStep(job);
    }
    return wakeAt;
  }
}
