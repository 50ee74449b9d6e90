import type { Logger } from 'pino';
import { ContactBuffer, type FlushTrigger } from '../buffer/contact-buffer.js';
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
import type { DeliveryGate, DeliveryOutcomes } from './outcomes.js';
import { ImportDispatch } from './import-dispatch.js';
import { ReentryQueue } from './reentry-queue.js';
import { ErasureQueue } from './erasure-queue.js';
import { EmailChanges } from './email-changes.js';
import { UntagQueue } from './untag-queue.js';
import { LookupQueue } from './lookup-queue.js';
import { defaultReadRules } from './member-reads.js';

export type { AppliedChange } from './outcomes.js';
export type { AccountOptions } from './account-options.js';

/**
 * Delivery for one ActiveCampaign account: buffer → rate budget → bulk import → confirmation. One scheduler
 * (tick) decides what may go now; requests run concurrently up to a bound; nothing blocks the consumer.
 * Composition: budget (rate limit) → client (timeout) → verdict → retry (requeue) or dead-letter (fallback).
 * The decisions are pure parts: pick.ts (the next import), plan.ts (the ledger's say on a cut), answer.ts (a
 * bulk answer's actions), confirmations.ts (deadline, resubmits), reentry-queue.ts, health.ts; import-dispatch.ts
 * (cut → plan → send) and the job queues carry them out, and this loop only runs them.
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
  /** Entries of removes only whose contact neither the ledger nor a lookup knows: a lookup or a member read first. */
  private readonly lookups: LookupQueue<R>;
  private readonly flight: Flight = { requests: 0, sending: 0 };
  /** Erasure requests under way (erasure-queue.ts). */
  private readonly erasures: ErasureQueue<R>;
  private readonly io: AccountRequests<R>;
  /** Cut → plan → send (import-dispatch.ts). */
  private readonly imports: ImportDispatch<R>;
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
    metrics: Metrics,
    log: Logger,
    private readonly clock: Clock = systemClock,
    /** The ledger's say before sending (route, intents) and which refs still count; without it everything is imported. */
    gate?: DeliveryGate<R>,
    random: Random = Math.random,
  ) {
    this.buffer = new ContactBuffer<R>(opts.limits);
    this.budget = budget;
    this.confirms = new Confirmations<R>(opts, random);
    this.reentries = new ReentryQueue<R>(() => this.clock.epoch(), opts.repeatUnsubscribeMovesUdate);
    this.health = new AccountHealth(opts.maxBackoffMs, random);
    const { name, maxImportResubmits } = opts;
    const deps = { name, client, clock, metrics, log, fx: () => this.fx, health: this.health, buffer: this.buffer, wake: () => this.wake(), contactsChanged: (emails?: readonly string[]) => this.lookups.changed(emails) };
    this.untags = new UntagQueue<R>(opts.untagLists ?? new Set(), gate, deps);
    this.erasures = new ErasureQueue<R>({ ...deps, outcomes });
    this.lookups = new LookupQueue<R>({ ...deps, outcomes, rules: opts.memberReads ?? defaultReadRules });
    this.fx = new AccountEffects<R>({ name, maxImportResubmits, buffer: this.buffer, budget, confirms: this.confirms, reentries: this.reentries, late: this.late, untags: this.untags, health: this.health, clock, outcomes, metrics, log });
    const shared = { buffer: this.buffer, confirms: this.confirms, late: this.late, health: this.health, bisectQueue: this.bisectQueue, clock, outcomes, metrics, log };
    this.io = new AccountRequests<R>({ name, settleOnAccept: opts.settleOnAccept, client, gate, ...shared, wake: () => this.wake() }, this.flight, this.fx);
    const lookup = (entries: ContactEntry<R>[]) => {
      for (const entry of entries) this.lookups.push({ entry, notBefore: 0 });
      this.wake();
    };
    this.imports = new ImportDispatch<R>({ ...opts, ...shared, budget, gate, flight: this.flight, fx: this.fx, takePlain: (email, listId) => this.reentries.takePlain(email, listId), lookup, send: (batch, resubscribe) => this.io.send(batch, resubscribe) });
    const maxProfiles = opts.maxProfiles ?? 250_000;
    if (maxProfiles > 0) this.emails = new EmailChanges<R>({ connection: name, budget, clock, client, outcomes, add: (u) => this.add(u), holds: (e) => this.buffer.holds(e), log, maxProfiles, onIdle: () => this.wake(), onResult: (result) => metrics.emailChanges.inc({ connection: name, result }),
      store: gate?.profiles, lookupsPerSecond: opts.profileLookupsPerSecond, onLookup: (result) => metrics.profileLookups.inc({ connection: name, result }), contactsChanged: deps.contactsChanged });
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

  /** What the account fails with while it is down (AUTH_FAILED: the token is refused). */
  get failing(): string | undefined {
    return this.health.failing;
  }

  /** The account answered another request (the token probe): a paused delivery tries again now. */
  answeredElsewhere(): void {
    if (this.health.retrySoon(this.clock.now())) this.wake();
  }

  /** Resolves when nothing is buffered, sending or unconfirmed. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rebalance: drop unsent changes of partitions this member lost, and the member reads (they predate it). Returns the dropped refs. */
  dropRevoked(revoked: (ref: R) => boolean): R[] {
    this.lookups.changed();
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
      wakeAt = Math.min(this.imports.dispatch(now, this.draining), this.dispatchPolls(now, due), this.dispatchReentries(now), this.dispatchUntags(now), this.dispatchLookups(now), this.dispatchErasures(now));
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

  /** Answers removes that would otherwise create their contact (lookup-queue.ts), while the budget allows. */
  private dispatchLookups(now: number): number {
    return this.lookups.dispatch(now, (t) => this.requestSlot(t), this.flight);
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
