import type { Logger } from 'pino';
import { bodyOf, ContactBuffer, entryRefs, type Batch, type BufferLimits, type FlushTrigger } from '../buffer/contact-buffer.js';
import type { ContactEntry, ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import { emailProblem, normaliseEmail } from '../domain/email.js';
import type { Stage } from '../domain/errors.js';
import { maskEmail } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { RateBudget } from './budget.js';
import type { AcApi } from './client.js';

/** How settled and failed events leave delivery. */
export interface Settlement<R> {
  settle(refs: R[]): void;
  deadLetter(refs: R[], stage: Stage, code: string, message: string): void;
  /** Called when ActiveCampaign accepted a request holding these refs (end-to-end latency). */
  accepted?(refs: R[], at: number): void;
}

export interface AccountOptions {
  name: string;
  limits: BufferLimits;
  /** Imports accepted but not confirmed, at most (each costs polls from the same budget). */
  maxUnconfirmed: number;
  maxConcurrentRequests: number;
  maxImportResubmits: number;
  pollIntervalMs: number;
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
  nextPollAt: number;
  polls: number;
  polling: boolean;
}

/**
 * Delivery for one ActiveCampaign account: buffer → rate budget → bulk import → confirmation. One scheduler
 * (tick) decides what may go now; requests run concurrently up to a bound; nothing blocks the consumer.
 * Composition: budget (rate limit) → client (timeout) → verdict → retry (requeue) or dead-letter (fallback).
 */
export class AccountDelivery<R> {
  readonly buffer: ContactBuffer<R>;
  readonly budget: RateBudget;
  private readonly unconfirmed = new Map<string, Unconfirmed<R>>();
  private readonly bisectQueue: ContactEntry<R>[][] = [];
  private readonly resubmits = new Map<string, number>();
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
    private readonly settlement: Settlement<R>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.buffer = new ContactBuffer<R>(opts.limits);
    this.budget = budget;
  }

  add(update: ContactUpdate<R>): MergeOutcome {
    const outcome = this.buffer.add(update, this.now());
    // Superseded by a change already sent: with settleOnAccept that change may have settled already.
    if (outcome === 'superseded-in-flight' && this.opts.settleOnAccept) this.settlement.settle([update.ref]);
    this.wake();
    return outcome;
  }

  /** Flush everything regardless of linger (shutdown, rebalance), until drain() is called again with undefined. */
  drain(trigger: FlushTrigger | undefined): void {
    this.draining = trigger;
    this.wake();
  }

  get idle(): boolean {
    return this.buffer.contacts === 0 && this.unconfirmed.size === 0 && this.sending === 0 && this.bisectQueue.length === 0;
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
    for (const u of this.unconfirmed.values()) {
      if (u.polling) continue;
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
      this.budget.spend(kind, now);
      this.recordBudgetWait(now);
      this.metrics.flushes.inc({ connection: this.opts.name, trigger: batch.trigger });
      void this.send(batch);
    }
  }

  private async send(batch: Batch<R>): Promise<void> {
    const name = this.opts.name;
    this.requests++;
    this.sending++;
    this.metrics.batchSize.observe({ connection: name }, batch.entries.length);
    this.metrics.batchBytes.observe({ connection: name }, batch.bytes);
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
        const batchId = answer.body?.batchId;
        const refs = batch.entries.flatMap(entryRefs);
        this.settlement.accepted?.(refs, now);
        if (!batchId) {
          this.dead(batch.entries, 'deliver', 'NO_BATCH_ID', 'ActiveCampaign accepted the import without a batchId, so it cannot be confirmed');
          break;
        }
        if (this.opts.settleOnAccept) this.settlement.settle(refs);
        this.unconfirmed.set(batchId, { batchId, entries: batch.entries, nextPollAt: now + 1_000 / this.opts.timeScale, polls: 0, polling: false });
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

  private completed(u: Unconfirmed<R>, failure: string[]): void {
    this.unconfirmed.delete(u.batchId);
    this.metrics.confirmations.inc({ connection: this.opts.name, status: 'completed' });
    const failed = new Set(failure.map(normaliseEmail));
    const ok: R[] = [];
    for (const entry of u.entries) {
      this.resubmits.delete(entry.email);
      if (failed.has(entry.email)) {
        this.fail(entry, 'confirm', 'IMPORT_CONTACT_FAILED', 'ActiveCampaign listed the contact as failed (unsubscribed from a target list, excluded, bounced or over the contact limit)');
      } else if (!this.opts.settleOnAccept) ok.push(...entryRefs(entry));
    }
    if (ok.length) this.settlement.settle(ok);
    this.buffer.release(u.entries.map((e) => e.email));
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
        this.fail(entry, 'confirm', 'IMPORT_FAILED', `the import ended "${status}" ${n} times`);
        this.buffer.release([entry.email]);
      } else {
        this.resubmits.set(entry.email, n);
        again.push(entry);
      }
    }
    this.log.warn({ status, contacts: u.entries.length }, 'A bulk import did not complete; resubmitting from the current buffer state');
    this.buffer.requeue(again);
  }

  private dead(entries: ContactEntry<R>[], stage: Stage, code: string, message: string): void {
    for (const entry of entries) this.fail(entry, stage, code, message);
    this.buffer.release(entries.map((e) => e.email));
  }

  private fail(entry: ContactEntry<R>, stage: Stage, code: string, message: string): void {
    this.log.error({ email: maskEmail(entry.email), stage, code }, `A contact could not be delivered and goes to the dead-letter topic: ${message}`);
    this.settlement.deadLetter(entryRefs(entry), stage, code, message);
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
