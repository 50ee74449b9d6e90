import type { Logger } from 'pino';
import { bodyOf, ContactBuffer, entryRefs, type Batch, type BufferLimits, type FlushTrigger } from '../buffer/contact-buffer.js';
import { newEntry, serialize, type ContactEntry, type ContactUpdate, type ListChange, type MergeOutcome } from '../buffer/contact-entry.js';
import { emailProblem, normaliseEmail } from '../domain/email.js';
import type { Stage } from '../domain/errors.js';
import { crashPoint } from '../crash-points.js';
import { CONSENT_OPTED_OUT, CONSENT_REENTRY_OFF, type Route } from '../ledger/decide.js';
import { maskEmail } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { RateBudget } from './budget.js';
import type { AcApi } from './client.js';
import type { AppliedChange, DeliveryGate, DeliveryOutcomes } from './outcomes.js';
import { planBatch, ReentryJob, type ReentryItem, type ReentryOutcome } from './reentry.js';

export type { AppliedChange } from './outcomes.js';

export interface AccountOptions {
  name: string;
  limits: BufferLimits;
  /** Imports accepted but not confirmed, at most (each costs polls from the same budget). */
  maxUnconfirmed: number;
  maxConcurrentRequests: number;
  maxImportResubmits: number;
  pollIntervalMs: number;
  /** An import not confirmed this long after acceptance is resubmitted from the newest buffered state. */
  confirmTimeoutMs: number;
  maxBackoffMs: number;
  timeScale: number;
  /** Settle at acceptance instead of confirmation (opt-in; see README). */
  settleOnAccept: boolean;
  /** 'partitions': follow the fraction of source partitions this member owns; a number: a fixed share. */
  budgetShare: 'partitions' | number;
  /** Carved out of the account before the shares are applied (for replays, or taken by a replay itself). */
  reservedShare: number;
}

interface Unconfirmed<R> {
  batchId: string;
  entries: ContactEntry<R>[];
  acceptedAt: number;
  /** email → lists re-subscribed with contactLists once this import is confirmed (left out of its body). */
  resubscribe: Map<string, ReentryItem<R>[]>;
  nextPollAt: number;
  polls: number;
  polling: boolean;
  /** Past its confirmation deadline: its changes were resubmitted; polled rarely until then (epoch ms), for the record. */
  abandonedUntil?: number;
}

/** An abandoned batch (ActiveCampaign cannot cancel one) is still polled this often, for this long. */
const ABANDONED_POLL_MS = 5 * 60_000;
const ABANDONED_FOR_MS = 24 * 3_600_000;

/**
 * Delivery for one ActiveCampaign account: buffer → rate budget → bulk import → confirmation. One scheduler
 * (tick) decides what may go now; requests run concurrently up to a bound; nothing blocks the consumer.
 * Composition: budget (rate limit) → client (timeout) → verdict → retry (requeue) or dead-letter (fallback).
 */
export class AccountDelivery<R> {
  readonly buffer: ContactBuffer<R>;
  readonly budget: RateBudget;
  private readonly unconfirmed = new Map<string, Unconfirmed<R>>();
  /** Imports past their deadline, outside maxUnconfirmed: polled every 5 minutes for a day, then forgotten. */
  private readonly abandoned = new Map<string, Unconfirmed<R>>();
  private readonly bisectQueue: ContactEntry<R>[][] = [];
  private readonly resubmits = new Map<string, number>();
  private readonly reentries: ReentryJob<R>[] = [];
  /** `email\u0000listId` of re-entries whose contact is gone from the account: imported instead, once. */
  private readonly plainNext = new Set<string>();
  private requests = 0;
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private draining: FlushTrigger | undefined;
  private downUntil = 0;
  private downCount = 0;
  private downCode: string | undefined;
  private closed = false;
  /** Since when a due import has been held back by the budget alone (rate_budget_wait_seconds_total). */
  private budgetBlockedAt: number | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly opts: AccountOptions,
    budget: RateBudget,
    private readonly client: AcApi,
    private readonly outcomes: DeliveryOutcomes<R>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** The ledger's say before sending (route, intents) and which refs still count; without it everything is imported. */
    private readonly gate?: DeliveryGate<R>,
  ) {
    this.buffer = new ContactBuffer<R>(opts.limits);
    this.budget = budget;
  }

  add(update: ContactUpdate<R>): MergeOutcome {
    const outcome = this.buffer.add(update, this.now());
    // Superseded by a change already sent: with settleOnAccept that change may have settled already.
    if (outcome === 'superseded-in-flight' && this.opts.settleOnAccept) this.outcomes.accepted([update.ref], this.now(), true);
    this.wake();
    return outcome;
  }

  /** Flush everything regardless of linger (shutdown, rebalance), until drain() is called again with undefined. */
  drain(trigger: FlushTrigger | undefined): void {
    this.draining = trigger;
    this.wake();
  }

  get idle(): boolean {
    return this.buffer.contacts === 0 && this.unconfirmed.size === 0 && this.sending === 0 && this.bisectQueue.length === 0 && this.reentries.length === 0;
  }

  get down(): boolean {
    return this.downCode !== undefined;
  }

  /** Resolves when nothing is buffered, sending or unconfirmed. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rebalance: drop unsent changes of partitions this member lost. Returns the dropped refs. */
  dropRevoked(revoked: (ref: R) => boolean): R[] {
    const dropped = this.buffer.drop(revoked);
    // Nothing keyed by an email outlives its entries: a leftover would steer a later change of that email.
    for (const email of this.resubmits.keys()) if (!this.buffer.holds(email)) this.resubmits.delete(email);
    for (const k of this.plainNext) if (!this.buffer.holds(k.slice(0, k.indexOf('\u0000')))) this.plainNext.delete(k);
    this.updateGauges();
    return dropped;
  }

  /** A rebalance gave this member `fraction` of the source partitions. */
  setPartitionShare(fraction: number): void {
    const base = this.opts.budgetShare === 'partitions' ? fraction : this.opts.budgetShare;
    this.budget.share = Math.max(0.001, base * (1 - this.opts.reservedShare));
    this.updateGauges();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    let wakeAt = Infinity;
    if (now >= this.downUntil) {
      wakeAt = Math.min(wakeAt, this.dispatchPolls(now));
      wakeAt = Math.min(wakeAt, this.dispatchReentries(now));
      wakeAt = Math.min(wakeAt, this.dispatchImports(now));
    } else {
      wakeAt = this.downUntil;
    }
    this.updateGauges();
    if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
    if (wakeAt !== Infinity) this.timer = setTimeout(() => this.tick(), Math.max(1, wakeAt - this.now()));
  }

  /** Polls due imports while the budget allows; returns when to look again. */
  private dispatchPolls(now: number): number {
    let next = Infinity;
    for (const u of [...this.unconfirmed.values(), ...this.abandoned.values()]) {
      if (u.polling) continue;
      if (u.abandonedUntil === undefined && now >= u.acceptedAt + this.opts.confirmTimeoutMs / this.opts.timeScale) {
        this.abandon(u, now);
        continue;
      }
      if (u.abandonedUntil === undefined) next = Math.min(next, u.acceptedAt + this.opts.confirmTimeoutMs / this.opts.timeScale);
      if (u.nextPollAt > now) {
        next = Math.min(next, u.nextPollAt);
        continue;
      }
      if (this.requests >= this.opts.maxConcurrentRequests) return next;
      const ready = this.budget.readyAt('request', now);
      if (ready > now) return Math.min(next, ready);
      this.budget.spend('request', now);
      void this.poll(u);
    }
    return next;
  }

  /** Sends imports while there is work, budget and room for unconfirmed imports; returns when to look again. */
  private dispatchImports(now: number): number {
    for (;;) {
      if (this.requests >= this.opts.maxConcurrentRequests) return Infinity;
      if (this.unconfirmed.size + this.sending >= this.opts.maxUnconfirmed) return Infinity;
      const bisect = this.bisectQueue.length > 0;
      const trigger: FlushTrigger | undefined = bisect ? 'retry' : (this.draining ?? this.buffer.due(now));
      if (!trigger) {
        this.budgetBlockedAt = undefined;
        return this.buffer.dueAt() ?? Infinity;
      }
      const contacts = bisect ? this.bisectQueue[0]!.length : Math.min(this.buffer.readyContacts, this.opts.limits.maxContacts);
      if (contacts === 0) return Infinity;
      const kind = contacts === 1 ? 'single-import' : 'import';
      const ready = this.budget.readyAt(kind, now);
      if (ready > now) {
        this.budgetBlockedAt ??= now;
        return ready;
      }
      let batch: Batch<R> | undefined;
      if (bisect) {
        const entries = this.bisectQueue.shift()!;
        batch = { entries, ...bodyOf(entries), trigger: 'retry' };
      } else {
        const cut = this.buffer.take(trigger);
        if (cut.oversize) {
          this.fail(cut.oversize, 'deliver', 'CONTACT_TOO_LARGE', `one contact serializes to ${cut.oversize.bytes} bytes, over the ${this.opts.limits.maxBytes}-byte request limit`);
          continue;
        }
        batch = cut.batch;
      }
      if (!batch) return Infinity;
      const plan = this.plan(batch.entries, now);
      if (plan.entries.length === 0) continue;
      // Stale or refused changes left out may turn a multi-contact import into a single-contact one.
      const sending = plan.entries.length === 1 ? 'single-import' : 'import';
      if (sending !== kind && this.budget.readyAt(sending, now) > now) {
        this.buffer.requeue(plan.entries);
        return this.budget.readyAt(sending, now);
      }
      if (plan.entries.length !== batch.entries.length || plan.resubscribe.size) batch = { entries: plan.entries, ...bodyOf(plan.entries), trigger: batch.trigger };
      this.budget.spend(sending, now);
      this.recordBudgetWait(now);
      this.metrics.flushes.inc({ connection: this.opts.name, trigger: batch.trigger });
      void this.send(batch, plan.resubscribe);
    }
  }

  /**
   * The ledger's say on a batch just cut: refs of an earlier generation leave (their events are fetched again),
   * stale changes settle unsent, re-entries the export does not allow are refused, re-entries allowed leave the
   * import body and wait for its confirmation (then contactLists).
   */
  private plan(entries: ContactEntry<R>[], now: number) {
    const superseded = this.pruneDead(entries);
    const plan = planBatch(entries, (email, listId, change) => {
      if (change.refs.length === 0) return { kind: 'stale' };
      if (this.plainNext.delete(`${email}\u0000${listId}`)) return { kind: 'import' };
      return this.gate?.route(this.opts.name, email, listId, change) ?? { kind: 'import' };
    });
    const stale = [...superseded, ...plan.stale.flatMap((c) => c.refs)];
    if (stale.length) this.outcomes.skipped(stale, 'stale');
    if (plan.reentryOff.length) {
      const message = 'the contact re-entered the segment after this service unsubscribed them, and the export has reentry: false';
      this.record(plan.reentryOff.map(({ entry, listId, change }) => this.change(entry.email, listId, change, now, now, { code: CONSENT_REENTRY_OFF, message })));
    }
    if (plan.dropped.length) this.buffer.release(plan.dropped.map((e) => e.email));
    return plan;
  }

  /**
   * Refs fetched before the last rebalance are dropped: their events are uncommitted and fetched again. When the
   * change's winner is such a ref, its current refs are older events superseded by it (it returns with its
   * partition, and a copy fetched again already wins any merge as the newer arrival): they are returned to settle
   * as stale, and nothing of the change is sent.
   */
  private pruneDead(entries: readonly ContactEntry<R>[]): R[] {
    const gate = this.gate;
    if (!gate) return [];
    const superseded: R[] = [];
    for (const entry of entries) {
      for (const change of entry.lists.values()) {
        if (change.refs.every((r) => gate.live(r))) continue;
        const live = change.refs.filter((r) => gate.live(r));
        if (gate.live(change.winner)) change.refs = live;
        else {
          superseded.push(...live);
          change.refs = [];
        }
      }
    }
    return superseded;
  }

  private change(email: string, listId: string, c: ListChange<R>, sentAt: number, confirmedAt: number, refused?: AppliedChange<R>['refused'], failed?: boolean): AppliedChange<R> {
    return { email, listId, op: c.op, occurredAt: c.occurredAt, refs: c.refs, winner: c.winner, sentAt, confirmedAt, ...(refused ? { refused } : {}), ...(failed ? { failed } : {}) };
  }

  /** Hands confirmed, consent-refused or failed changes to the outcome sink (it records them, then settles). */
  private record(changes: AppliedChange<R>[]): void {
    if (changes.length) this.outcomes.applied(this.opts.name, changes);
  }

  private async send(batch: Batch<R>, resubscribe: Map<string, ReentryItem<R>[]>): Promise<void> {
    const name = this.opts.name;
    this.requests++;
    this.sending++;
    this.metrics.batchSize.observe({ connection: name }, batch.entries.length);
    this.metrics.batchBytes.observe({ connection: name }, batch.bytes);
    // Write-ahead: the ledger holds the intent of every unsubscribe in this import before it goes out.
    const removes = batch.entries.flatMap((entry) => [...entry.lists].filter(([listId, c]) => c.op === 'remove' && !resubscribe.get(entry.email)?.some((i) => i.listId === listId)).map(([listId, change]) => ({ email: entry.email, listId, change })));
    if (removes.length && this.gate) {
      try {
        await this.gate.intend(name, removes, this.now());
        crashPoint('intent-written');
      } catch (err) {
        this.requests--;
        this.sending--;
        this.log.warn({ err: (err as Error).message, contacts: batch.entries.length }, 'The intents of an import could not be written; it waits in the buffer');
        this.buffer.requeue(batch.entries);
        this.wake();
        return;
      }
    }
    const answer = await this.client.bulkImport(batch.body);
    this.requests--;
    this.sending--;
    const now = this.now();
    const v = answer.verdict;
    switch (v.kind) {
      case 'ok': {
        this.up();
        this.budget.succeeded(now);
        this.metrics.lastFlushSuccess.set({ connection: name }, now / 1000);
        crashPoint('import-accepted');
        const batchId = answer.body?.batchId;
        const refs = batch.entries.flatMap(entryRefs);
        this.outcomes.accepted(refs, now, this.opts.settleOnAccept && !!batchId);
        if (!batchId) {
          this.dead(batch.entries, 'deliver', 'NO_BATCH_ID', 'ActiveCampaign accepted the import without a batchId, so it cannot be confirmed', true);
          break;
        }
        this.unconfirmed.set(batchId, { batchId, entries: batch.entries, acceptedAt: now, resubscribe, nextPollAt: now + this.opts.pollIntervalMs / this.opts.timeScale, polls: 0, polling: false });
        break;
      }
      case 'throttled':
        this.throttled(v.code, v.retryAfterMs, now);
        this.metrics.retries.inc({ connection: name, reason: v.code });
        this.buffer.requeue(batch.entries);
        break;
      case 'account':
        this.markDown(v.code, v.message, now);
        this.metrics.retries.inc({ connection: name, reason: v.code });
        this.buffer.requeue(batch.entries);
        break;
      case 'invalid-contacts':
        this.up();
        this.splitInvalid(batch.entries, v.indexes, v.reasons);
        break;
      case 'reject':
        this.up();
        this.dead(batch.entries, 'deliver', v.code, v.message);
        break;
    }
    this.wake();
  }

  /**
   * A validation 400 names contacts by an index whose base (0 or 1) is not documented. An index whose two
   * candidates differ under our own email check is resolved; otherwise the batch is bisected until a single
   * contact is refused alone. Everything not refused goes back to the buffer, merged with newer changes.
   */
  private splitInvalid(entries: ContactEntry<R>[], indexes: number[], reasons: string[]): void {
    const bad = new Set<number>();
    let ambiguous = false;
    for (const i of indexes) {
      const c0 = entries[i] && emailProblem(entries[i].email) ? i : undefined;
      const c1 = entries[i - 1] && emailProblem(entries[i - 1]!.email) ? i - 1 : undefined;
      if (c0 !== undefined) bad.add(c0);
      else if (c1 !== undefined) bad.add(c1);
      else ambiguous = true;
    }
    const reason = reasons[0] ?? 'refused by ActiveCampaign validation';
    if (entries.length === 1) {
      this.dead(entries, 'deliver', 'INVALID_CONTACT', reason);
      return;
    }
    for (const i of bad) this.dead([entries[i]!], 'deliver', 'INVALID_CONTACT', reason);
    const rest = entries.filter((_, i) => !bad.has(i));
    if (ambiguous && bad.size === 0) {
      const half = Math.ceil(rest.length / 2);
      this.bisectQueue.unshift(rest.slice(0, half), rest.slice(half));
      this.log.warn({ contacts: rest.length }, 'ActiveCampaign refused a contact it did not name unambiguously; bisecting the import');
      return;
    }
    this.buffer.requeue(rest);
  }

  private async poll(u: Unconfirmed<R>): Promise<void> {
    const name = this.opts.name;
    u.polling = true;
    this.requests++;
    const answer = await this.client.importInfo(u.batchId);
    this.requests--;
    u.polling = false;
    u.polls++;
    const now = this.now();
    const v = answer.verdict;
    if (u.abandonedUntil !== undefined) {
      this.abandonedAnswered(u, answer.body?.status, now);
      this.wake();
      return;
    }
    const backoff = Math.min(this.opts.pollIntervalMs * 2 ** Math.min(u.polls - 1, 3), 10_000) / this.opts.timeScale;
    if (v.kind === 'ok') {
      this.up();
      this.budget.succeeded(now);
      const status = answer.body?.status;
      if (status === 'completed') this.completed(u, answer.body?.failure ?? []);
      else if (status === 'failed' || status === 'interrupted') this.importFailed(u, status);
      else u.nextPollAt = now + backoff;
    } else if (v.kind === 'throttled') {
      this.throttled(v.code, v.retryAfterMs, now);
      u.nextPollAt = now + v.retryAfterMs;
    } else if (v.kind === 'account') {
      this.markDown(v.code, v.message, now);
      u.nextPollAt = now + backoff;
    } else {
      this.importFailed(u, 'unknown');
    }
    this.wake();
  }

  /**
   * A completed import: each (list, contact) change not in `failure` is confirmed. A contact in `failure` had
   * something refused, and ActiveCampaign does not say which list: its memberships are read (a ReentryJob with no
   * window of ours), each add is then confirmed (active), refused (unsubscribed: CONSENT_OPTED_OUT; bounced) or
   * sent again, and its removes are sent again: one refused list never takes the contact's other lists with it.
   * Re-entries left out of the body now go to contactLists. Emails stay in flight until those jobs are done.
   */
  private completed(u: Unconfirmed<R>, failure: string[]): void {
    this.unconfirmed.delete(u.batchId);
    this.metrics.confirmations.inc({ connection: this.opts.name, status: 'completed' });
    const failed = new Set(failure.map(normaliseEmail));
    const now = this.now();
    const changes: AppliedChange<R>[] = [];
    const release: string[] = [];
    for (const entry of u.entries) {
      const resubscribe = u.resubscribe.get(entry.email) ?? [];
      const later = new Set(resubscribe.map((i) => i.listId));
      if (!failed.has(entry.email)) {
        this.resubmits.delete(entry.email);
        for (const [listId, c] of entry.lists) if (!later.has(listId)) changes.push(this.change(entry.email, listId, c, u.acceptedAt, now));
        if (resubscribe.length) this.reentries.push(new ReentryJob(entry.email, resubscribe, this.now));
        else release.push(entry.email);
        continue;
      }
      this.log.warn({ email: maskEmail(entry.email) }, 'ActiveCampaign listed a contact of a bulk import as failed; reading its memberships to find the refused list');
      const adds: ReentryItem<R>[] = [];
      const resend: [string, ListChange<R>][] = [];
      for (const [listId, change] of entry.lists) {
        if (later.has(listId)) continue;
        if (change.op === 'add') adds.push({ listId, change });
        else resend.push([listId, change]);
      }
      this.reentries.push(new ReentryJob(entry.email, [...resubscribe, ...adds], this.now, { entry, resend }));
    }
    this.record(changes);
    this.buffer.release(release);
  }

  /** Runs re-subscribe steps while the budget allows; returns when to look again. */
  private dispatchReentries(now: number): number {
    let next = Infinity;
    for (const job of [...this.reentries]) {
      if (job.busy) continue;
      if (job.notBefore > now) {
        next = Math.min(next, job.notBefore);
        continue;
      }
      if (!job.needsRequest()) {
        this.reentryDone(job, job.result());
        continue;
      }
      if (this.requests >= this.opts.maxConcurrentRequests) return next;
      const ready = this.budget.readyAt('request', now);
      if (ready > now) return Math.min(next, ready);
      this.budget.spend('request', now);
      void this.reentryStep(job);
    }
    return next;
  }

  private async reentryStep(job: ReentryJob<R>): Promise<void> {
    job.busy = true;
    this.requests++;
    const r = await job.step(this.client);
    this.requests--;
    job.busy = false;
    const now = this.now();
    if (r.kind === 'wait') {
      const v = r.verdict;
      if (v.kind === 'throttled') {
        this.throttled(v.code, v.retryAfterMs, now);
        job.notBefore = now + v.retryAfterMs;
      } else {
        this.markDown(v.kind === 'account' ? v.code : 'REJECTED', v.kind === 'account' ? v.message : 'refused', now);
        job.notBefore = this.downUntil;
      }
      this.metrics.retries.inc({ connection: this.opts.name, reason: v.kind === 'throttled' ? v.code : 'REENTRY' });
    } else {
      this.up();
      this.budget.succeeded(now);
      if (r.kind === 'done') this.reentryDone(job, r.outcomes);
    }
    this.wake();
  }

  /**
   * A re-entry (or the memberships read after a failed contact) finished: record what happened to each list, send
   * again what must go by bulk import, then let the email's newer changes go. What follows a failed contact is sent
   * again a bounded number of times, then dead-lettered IMPORT_CONTACT_FAILED.
   */
  private reentryDone(job: ReentryJob<R>, outcomes: ReentryOutcome<R>[]): void {
    const i = this.reentries.indexOf(job);
    if (i < 0) return;
    this.reentries.splice(i, 1);
    const changes: AppliedChange<R>[] = [];
    const again = new Map<string, ListChange<R>>(job.after?.resend ?? []);
    for (const { item, result, at, code, message } of outcomes) {
      this.metrics.resubscribes.inc({ connection: this.opts.name, result });
      if (result === 'subscribed' || result === 'already') changes.push(this.change(job.email, item.listId, item.change, at, at));
      else if (result === 'opted_out') {
        const why = item.window ? 'the contact unsubscribed outside the window of the service\'s own unsubscribe (before it, or again after it)' : 'ActiveCampaign refused to subscribe the contact and its membership is unsubscribed, not by this service';
        changes.push(this.change(job.email, item.listId, item.change, at, at, { code: CONSENT_OPTED_OUT, message: `${why}: the opt-out stands` }));
      } else if (result === 'bounced') changes.push(this.change(job.email, item.listId, item.change, at, at, { code: 'CONTACT_BOUNCED', message: 'the membership is bounced: not re-subscribed' }));
      else if (result === 'missing' || result === 'import') {
        // No membership, an unconfirmed one, or no contact at all: a plain import, under ActiveCampaign's own rules.
        this.plainNext.add(`${job.email}\u0000${item.listId}`);
        again.set(item.listId, item.change);
      } else {
        this.log.error({ email: maskEmail(job.email), code }, `A re-subscribe failed and goes to the dead-letter topic: ${message ?? 'refused'}`);
        this.outcomes.dead(item.change.refs, 'deliver', code ?? 'RESUBSCRIBE_FAILED', message ?? 'contactLists refused the re-subscribe');
      }
    }
    this.record(changes);
    if (again.size === 0) {
      if (job.after) this.resubmits.delete(job.email);
      this.buffer.release([job.email]);
      return;
    }
    const entry = job.after?.entry ?? newEntry<R>(job.email, this.now());
    entry.lists = again;
    serialize(entry);
    if (job.after) {
      const n = (this.resubmits.get(job.email) ?? 0) + 1;
      if (n > this.opts.maxImportResubmits) {
        this.fail(entry, 'confirm', 'IMPORT_CONTACT_FAILED', `ActiveCampaign listed the contact as failed ${n} times (excluded, bounced, over the contact limit, or another refusal)`, true);
        this.buffer.release([job.email]);
        return;
      }
      this.resubmits.set(job.email, n);
    }
    this.buffer.requeue([entry]);
  }

  /**
   * The confirmation deadline passed: ActiveCampaign cannot cancel a batch, so it is polled rarely for a day (for
   * the log), outside maxUnconfirmed, and its changes are rebuilt from the newest buffered state and resubmitted
   * like a failed import's. The worst commit stall this allows is (maxImportResubmits + 1) × confirmTimeoutMs.
   */
  private abandon(u: Unconfirmed<R>, now: number): void {
    this.log.warn({ batchId: u.batchId, contacts: u.entries.length, waitedMs: now - u.acceptedAt }, 'A bulk import was not confirmed before its deadline; resubmitting its changes from the current buffer state');
    const entries = u.entries;
    this.importFailed(u, 'timeout');
    u.entries = [];
    u.abandonedUntil = u.acceptedAt + ABANDONED_FOR_MS / this.opts.timeScale;
    u.nextPollAt = now + ABANDONED_POLL_MS / this.opts.timeScale;
    if (entries.length) this.abandoned.set(u.batchId, u);
  }

  /** An abandoned batch answered: a final status ends it (its changes were resubmitted); otherwise ask again later. */
  private abandonedAnswered(u: Unconfirmed<R>, status: unknown, now: number): void {
    if (status === 'completed' || status === 'failed' || status === 'interrupted' || now >= u.abandonedUntil!) {
      this.abandoned.delete(u.batchId);
      this.metrics.confirmations.inc({ connection: this.opts.name, status: `abandoned_${status === 'completed' || status === 'failed' || status === 'interrupted' ? status : 'expired'}` });
      this.log.info({ batchId: u.batchId, status }, 'An abandoned bulk import ended; its changes had been resubmitted');
      return;
    }
    u.nextPollAt = now + ABANDONED_POLL_MS / this.opts.timeScale;
  }

  /** failed / interrupted: rebuild from the current buffer state and resubmit, a bounded number of times. */
  private importFailed(u: Unconfirmed<R>, status: string): void {
    this.unconfirmed.delete(u.batchId);
    this.metrics.confirmations.inc({ connection: this.opts.name, status });
    const again: ContactEntry<R>[] = [];
    for (const entry of u.entries) {
      const n = (this.resubmits.get(entry.email) ?? 0) + 1;
      if (n > this.opts.maxImportResubmits) {
        this.resubmits.delete(entry.email);
        this.fail(entry, 'confirm', 'IMPORT_FAILED', `the import ended "${status}" ${n} times`, true);
        this.buffer.release([entry.email]);
      } else {
        this.resubmits.set(entry.email, n);
        again.push(entry);
      }
    }
    this.log.warn({ status, contacts: u.entries.length }, 'A bulk import did not complete; resubmitting from the current buffer state');
    this.buffer.requeue(again);
  }

  private dead(entries: ContactEntry<R>[], stage: Stage, code: string, message: string, sent = false): void {
    for (const entry of entries) this.fail(entry, stage, code, message, sent);
    this.buffer.release(entries.map((e) => e.email));
  }

  /**
   * A contact's changes go to the dead-letter topic. Once sent (ActiveCampaign may have applied part of it), they
   * are reported as failed changes, so the ledger replaces their intents; never sent, they are plain dead letters.
   */
  private fail(entry: ContactEntry<R>, stage: Stage, code: string, message: string, sent = false): void {
    this.resubmits.delete(entry.email); // a later change of this contact starts with a fresh count
    this.log.error({ email: maskEmail(entry.email), stage, code }, `A contact could not be delivered and goes to the dead-letter topic: ${message}`);
    if (!sent) {
      this.outcomes.dead(entryRefs(entry), stage, code, message);
      return;
    }
    const now = this.now();
    this.record([...entry.lists].map(([listId, c]) => this.change(entry.email, listId, c, now, now, { code, message }, true)));
  }

  private throttled(code: string, retryAfterMs: number, now: number): void {
    this.metrics.throttled.inc({ connection: this.opts.name, code });
    if (code === 'BULK_RATE_LIMITED') this.budget.importsThrottled(retryAfterMs, now);
    else {
      this.metrics.retryAfterSeconds.inc({ connection: this.opts.name }, retryAfterMs / 1000);
      this.budget.throttled(retryAfterMs, now);
    }
    this.log.warn({ code, retryAfterMs }, 'ActiveCampaign asked us to slow down');
  }

  private markDown(code: string, message: string, now: number): void {
    this.downCount++;
    const base = Math.min(this.opts.maxBackoffMs, 500 * 2 ** Math.min(this.downCount - 1, 10));
    this.downUntil = now + (base * (0.5 + Math.random() / 2)) / this.opts.timeScale;
    if (this.downCode !== code) {
      this.log.error({ code, message }, 'The ActiveCampaign account is failing; delivery pauses and retries with backoff (nothing is dead-lettered for this)');
      if (this.downCode) this.metrics.accountDown.set({ connection: this.opts.name, code: this.downCode }, 0);
      this.downCode = code;
      this.metrics.accountDown.set({ connection: this.opts.name, code }, 1);
    }
  }

  private up(): void {
    if (this.downCode === undefined) return;
    this.log.info({ after: this.downCount }, 'The ActiveCampaign account answers again; delivery resumes');
    this.metrics.accountDown.set({ connection: this.opts.name, code: this.downCode }, 0);
    this.downCode = undefined;
    this.downCount = 0;
    this.downUntil = 0;
  }

  private recordBudgetWait(now: number): void {
    if (this.budgetBlockedAt === undefined) return;
    this.metrics.budgetWaitSeconds.inc({ connection: this.opts.name }, Math.max(0, now - this.budgetBlockedAt) / 1000);
    this.budgetBlockedAt = undefined;
  }

  private updateGauges(): void {
    const c = { connection: this.opts.name };
    this.metrics.bufferedContacts.set(c, this.buffer.contacts);
    this.metrics.bufferedBytes.set(c, this.buffer.bytes);
    this.metrics.unconfirmedImports.set(c, this.unconfirmed.size);
    this.metrics.budgetUtilisation.set(c, this.budget.utilisation);
  }
}
