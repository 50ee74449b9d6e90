import type { Logger } from 'pino';
import type { ContactBuffer, FlushTrigger } from '../buffer/contact-buffer.js';
import type { ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import type { Metrics } from '../observability/metrics.js';
import type { AccountOptions } from './account-options.js';
import { composeAccount, type AccountParts } from './account-parts.js';
import type { RateBudget } from './budget.js';
import type { AcApi } from './client.js';
import { systemClock, type Clock, type Random, type Timer } from './clock.js';
import type { EmailChanges } from './email-changes.js';
import type { DeliveryGate, DeliveryOutcomes } from './outcomes.js';

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
  /** Email changes of profiles (PUT /contacts/{id}); undefined when off. */
  readonly emails: EmailChanges<R> | undefined;
  /** The parts this loop runs (account-parts.ts). */
  private readonly p: AccountParts<R>;
  private timer: Timer | undefined;
  private scheduled = false;
  private draining: FlushTrigger | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly opts: AccountOptions,
    budget: RateBudget,
    client: AcApi,
    private readonly outcomes: DeliveryOutcomes<R>,
    metrics: Metrics,
    log: Logger,
    private readonly clock: Clock = systemClock,
    /**
     * The ledger's say before sending (route, intents) and which refs still count; without it everything is imported.
     */
    gate?: DeliveryGate<R>,
    random: Random = Math.random,
  ) {
    this.budget = budget;
    this.p = composeAccount<R>({
      opts,
      budget,
      client,
      outcomes,
      metrics,
      log,
      clock,
      gate,
      random,
      wake: () => this.wake(),
      add: (u) => this.add(u),
    });
    this.buffer = this.p.buffer;
    this.emails = this.p.emails;
  }

  /** A change of the profile `profileId`: held behind an email change of that profile, if one is under way. */
  addFor(profileId: string, update: ContactUpdate<R>): MergeOutcome {
    return this.emails ? this.emails.add(profileId, update) : this.add(update);
  }

  /** The account's client, its requests counted by the budget (ProbedAccount: the readiness probe sends on it). */
  get client(): AcApi {
    return this.p.client;
  }

  /** The time the budget runs on (ProbedAccount): readiness probes pay from the same budget. */
  budgetNow(): number {
    return this.clock.now();
  }

  add(update: ContactUpdate<R>): MergeOutcome {
    // The linger is the buffer's, in real time: a faster clock (the benchmark) must not cut smaller batches.
    const outcome = this.buffer.add(update, this.clock.epoch());
    // Superseded by a change already sent: with settleOnAccept that change may have settled already.
    if (outcome === 'superseded-in-flight' && this.opts.settleOnAccept)
      this.outcomes.accepted([update.ref], this.clock.epoch(), true);
    this.wake();
    return outcome;
  }

  /** An erasure request for this account (erasure-queue.ts); `ahead` is its write-ahead ledger marker. */
  erase(email: string, occurredAt: number, ref: R, ahead?: Promise<void>): void {
    this.p.erasures.add(email, occurredAt, ref, ahead);
  }

  /** Flush everything regardless of linger (shutdown, rebalance), until drain() is called again with undefined. */
  drain(trigger: FlushTrigger | undefined): void {
    this.draining = trigger;
    this.wake();
  }

  get idle(): boolean {
    return (
      this.buffer.contacts === 0 &&
      (this.emails?.holding ?? 0) === 0 &&
      this.p.confirms.size === 0 &&
      this.p.flight.sending === 0 &&
      this.p.bisectQueue.length === 0 &&
      this.p.reentries.size === 0 &&
      this.p.untags.size === 0 &&
      this.p.lookups.length === 0 &&
      this.p.erasures.size === 0
    );
  }

  get down(): boolean {
    return this.p.health.down;
  }

  /** What the account fails with while it is down (AUTH_FAILED: the token is refused). */
  get failing(): string | undefined {
    return this.p.health.failing;
  }

  /** Taken just before the token probe is sent, for answeredElsewhere(): the failures seen so far. */
  sendMark(): number {
    return this.p.health.mark();
  }

  /** The token probe sent with `sent` (sendMark()) was accepted: a delivery paused for a refused token tries again. */
  answeredElsewhere(sent: number): void {
    if (this.p.health.retrySoon(this.clock.now(), sent)) this.wake();
  }

  /** A 429 met by another request of this account (the token probe): handled as the loop's own. */
  throttledElsewhere(code: string, retryAfterMs: number): void {
    this.p.fx.throttled(code, retryAfterMs, this.clock.now());
  }

  /** Resolves after `ms` of the budget's time (the readiness probe waits on it). */
  budgetWait(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.after(ms, resolve));
  }

  /** Resolves when nothing is buffered, sending or unconfirmed. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Rebalance: drop unsent changes of partitions this member lost, and the member reads (they predate it).
   * Returns the dropped refs.
   */
  dropRevoked(revoked: (ref: R) => boolean): R[] {
    this.p.lookups.changed();
    const dropped = this.buffer.drop(revoked);
    dropped.push(...this.p.erasures.dropRevoked(revoked));
    const holds = (email: string) => this.buffer.holds(email);
    this.p.confirms.prune(holds);
    this.p.reentries.prune(holds);
    this.p.fx.updateGauges();
    return dropped;
  }

  /** A rebalance gave this member `fraction` of the source partitions. */
  setPartitionShare(fraction: number): void {
    const base = this.opts.budgetShare === 'partitions' ? fraction : this.opts.budgetShare;
    this.budget.setShare(Math.max(0.001, base * (1 - this.opts.reservedShare)), this.clock.now());
    this.p.fx.updateGauges();
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
    let wakeAt = this.p.health.pausedUntil;
    if (now >= wakeAt) {
      // Abandoned imports come back to the buffer first; then imports take request slots before polls: the
      // import window is the account's ceiling, and a poll can wait a slot.
      const due = this.p.confirms.due(now);
      for (const u of due.expired) this.p.fx.abandon(u, now);
      // Changes an abandoned import that completed late may have overwritten go again (late-imports.ts).
      const reasserts = this.p.late.ready((email) => this.buffer.holds(email));
      if (reasserts.length) this.p.fx.reassert(reasserts);
      wakeAt = Math.min(this.p.imports.dispatch(now, this.draining), this.p.jobs.dispatch(now, due));
    }
    this.p.fx.updateGauges();
    if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
    if (wakeAt !== Infinity) this.timer = this.clock.after(Math.max(1, wakeAt - this.clock.now()), () => this.tick());
  }
}
