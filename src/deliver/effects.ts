import type { Logger } from 'pino';
import { entryRefs, type ContactBuffer } from '../buffer/contact-buffer.js';
import { newEntry, serialize, type ContactEntry } from '../buffer/contact-entry.js';
import { normaliseEmail } from '../domain/email.js';
import type { DeadLetterCode } from '../domain/dead-letter-codes.js';
import type { Stage } from '../domain/errors.js';
import { maskEmail } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { RateBudget } from './budget.js';
import type { Verdict } from './classify.js';
import type { Clock } from './clock.js';
import type { Confirmations, Unconfirmed } from './confirmations.js';
import type { AccountHealth } from './health.js';
import type { LateImports, Reassert } from './late-imports.js';
import { appliedChange, type AppliedChange, type DeliveryOutcomes } from './outcomes.js';
import type { ReentryJob, ReentryOutcome } from './reentry.js';
import type { ReentryQueue } from './reentry-queue.js';
import type { UntagQueue } from './untag-queue.js';

/** The state of one account that its loop (account-delivery.ts) and these effects share. */
export interface AccountState<R> {
  name: string;
  maxImportResubmits: number;
  buffer: ContactBuffer<R>;
  budget: RateBudget;
  confirms: Confirmations<R>;
  reentries: ReentryQueue<R>;
  late: LateImports<R>;
  /** Tag removals after confirmed leaves (exports.removeTagsOnLeave); absent: none. */
  untags?: UntagQueue<R>;
  health: AccountHealth;
  clock: Clock;
  outcomes: DeliveryOutcomes<R>;
  metrics: Metrics;
  log: Logger;
}

/**
 * What the pure decisions of an account lead to, carried out: outcomes to the sink, entries back to the buffer or
 * out of flight, metrics and log lines. No request is made here; the loop makes them and hands the answers on.
 */
export class AccountEffects<R> {
  constructor(private readonly s: AccountState<R>) {}

  /** Hands confirmed, consent-refused or failed changes to the outcome sink (it records them, then settles). */
  record(changes: AppliedChange<R>[]): void {
    if (!changes.length) return;
    for (const c of changes) {
      if (c.refused || c.failed || c.absent) this.s.late.notApplied(c.email, c.listId);
      else this.s.late.confirmed(c.email, c.listId, c);
    }
    this.s.outcomes.applied(this.s.name, changes);
  }

  /**
   * Changes sent again because an abandoned import completed late over them (late-imports.ts): one entry per
   * email, no refs (they settled the first time), no profile fields, never stale; an add goes by re-subscribe.
   */
  reassert(items: Reassert<R>[]): void {
    const byEmail = new Map<string, ContactEntry<R>>();
    const epoch = this.s.clock.epoch();
    for (const r of items) {
      const entry = byEmail.get(r.email) ?? newEntry<R>(r.email, epoch);
      entry.inAccount = true; // the late import created or updated it
      entry.lists.set(r.listId, {
        op: r.change.op,
        occurredAt: r.change.occurredAt,
        seq: 0,
        refs: [],
        winner: r.change.winner,
        tags: new Set(),
        reassert: r.window ? { window: r.window } : {},
      });
      byEmail.set(r.email, entry);
    }
    for (const entry of byEmail.values()) serialize(entry);
    this.s.metrics.lateImportReasserts.inc({ connection: this.s.name }, items.length);
    this.s.log.warn(
      { changes: items.length, contacts: byEmail.size },
      'An abandoned bulk import completed after newer changes of its contacts; sending their newest state again',
    );
    this.s.buffer.requeue(byEmail.values());
  }

  /** A completed import (reentry-queue.ts decides what each change became); emails stay in flight for its jobs. */
  completed(u: Unconfirmed<R>, failure: string[]): void {
    this.s.metrics.confirmations.inc({ connection: this.s.name, status: 'completed' });
    const failed = new Set(failure.map(normaliseEmail));
    const done = this.s.reentries.completed(u.entries, u.resubscribe, failed, u.sentAt, this.s.clock.epoch());
    for (const email of done.confirmed) this.s.confirms.clear(email);
    for (const email of done.failed)
      this.s.log.warn(
        { email: maskEmail(email) },
        'ActiveCampaign listed a contact of a bulk import as failed; reading its memberships to find the refused list',
      );
    this.record(done.changes);
    // Leaves that remove tags hold their emails until the tags are gone (untag-queue.ts); re-entry jobs hold theirs.
    const released = new Set(done.release);
    const holding = this.s.untags?.afterImport(
      u.entries,
      failed,
      new Set(u.entries.map((e) => e.email).filter((e) => !released.has(e))),
    );
    this.s.buffer.release(holding?.size ? done.release.filter((e) => !holding.has(e)) : done.release);
  }

  /**
   * A re-entry (or the memberships read after a failed contact) finished: record what happened to each list, send
   * again what must go by bulk import, then let the email's newer changes go. What follows a failed contact is sent
   * again a bounded number of times, then dead-lettered IMPORT_CONTACT_FAILED.
   */
  reentryDone(job: ReentryJob<R>, outcomes: ReentryOutcome<R>[]): void {
    const end = this.s.reentries.finish(job, outcomes);
    if (!end) return;
    for (const result of end.results) this.s.metrics.resubscribes.inc({ connection: this.s.name, result });
    for (const d of end.dead) {
      this.s.log.error(
        { email: maskEmail(job.email), code: d.code },
        `A re-subscribe failed and goes to the dead-letter topic: ${d.message}`,
      );
      this.s.outcomes.dead(d.refs, 'deliver', d.code, d.message);
    }
    this.record(end.changes);
    if (!end.resend) {
      if (job.after) this.s.confirms.clear(job.email);
      this.s.buffer.release([job.email]);
      return;
    }
    if (job.after) {
      const n = this.s.confirms.count(job.email);
      if (n === undefined) {
        this.fail(
          end.resend,
          'confirm',
          'IMPORT_CONTACT_FAILED',
          `ActiveCampaign listed the contact as failed ${this.s.maxImportResubmits + 1} ` +
            'times (excluded, bounced, over the contact limit, or another refusal)',
          true,
        );
        this.s.buffer.release([job.email]);
        return;
      }
    }
    this.s.buffer.requeue([end.resend]);
  }

  /** The confirmation deadline passed: rebuilt from the newest buffered state and resubmitted (confirmations.ts). */
  abandon(u: Unconfirmed<R>, now: number): void {
    // Its body left out the re-subscribes (they wait for its confirmation): only what it carries can land late.
    this.s.late.abandoned(
      u.batchId,
      u.sentAt,
      u.entries.flatMap((e) =>
        [...e.lists]
          .filter(([listId]) => !u.resubscribe.get(e.email)?.some((i) => i.listId === listId))
          .map(([listId, c]) => ({ email: e.email, listId, op: c.op })),
      ),
    );
    this.s.log.warn(
      { batchId: u.batchId, contacts: u.entries.length, waitedMs: now - u.acceptedAt },
      'A bulk import was not confirmed before its deadline; resubmitting its changes from the current buffer state',
    );
    this.importFailed(this.s.confirms.abandon(u, now), 'timeout');
  }

  /** failed / interrupted / timeout: rebuild from the current buffer state and resubmit, a bounded number of times. */
  importFailed(entries: ContactEntry<R>[], status: string): void {
    this.s.metrics.confirmations.inc({ connection: this.s.name, status });
    const { again, exhausted } = this.s.confirms.resubmit(entries);
    for (const { entry, times } of exhausted) {
      this.fail(entry, 'confirm', 'IMPORT_FAILED', `the import ended "${status}" ${times} times`, true);
      this.s.buffer.release([entry.email]);
    }
    this.s.log.warn(
      { status, contacts: entries.length },
      'A bulk import did not complete; resubmitting from the current buffer state',
    );
    this.s.buffer.requeue(again);
  }

  dead(entries: ContactEntry<R>[], stage: Stage, code: DeadLetterCode, message: string, sent = false): void {
    for (const entry of entries) this.fail(entry, stage, code, message, sent);
    this.s.buffer.release(entries.map((e) => e.email));
  }

  /**
   * A contact's changes go to the dead-letter topic. Once sent (ActiveCampaign may have applied part of it), they
   * are reported as failed changes, so the ledger replaces their intents; never sent, they are plain dead letters.
   */
  fail(entry: ContactEntry<R>, stage: Stage, code: DeadLetterCode, message: string, sent = false): void {
    this.s.confirms.clear(entry.email); // a later change of this contact starts with a fresh count
    this.s.log.error(
      { email: maskEmail(entry.email), stage, code },
      `A contact could not be delivered and goes to the dead-letter topic: ${message}`,
    );
    if (!sent) {
      for (const listId of entry.lists.keys()) this.s.late.notApplied(entry.email, listId);
      this.s.outcomes.dead(entryRefs(entry), stage, code, message);
      return;
    }
    const at = this.s.clock.epoch();
    this.record(
      [...entry.lists].map(([listId, c]) => appliedChange(entry.email, listId, c, at, at, { code, message }, true)),
    );
  }

  /**
   * A step told to wait (a 429, or the account failing or refusing): carried out as for any request; returns when
   * the step may go again (after the Retry-After, or once the account's pause is over).
   */
  waited(v: Exclude<Verdict, { kind: 'ok' }>, now: number): number {
    if (v.kind === 'throttled') {
      this.throttled(v.code, v.retryAfterMs, now);
      return now + this.s.clock.fromReal(v.retryAfterMs);
    }
    this.markDown(v.kind === 'account' ? v.code : 'REJECTED', v.kind === 'account' ? v.message : 'refused', now);
    return this.s.health.pausedUntil;
  }

  throttled(code: string, retryAfterMs: number, now: number): void {
    this.s.metrics.throttled.inc({ connection: this.s.name, code });
    // The bulk "Rate limit exceeded." wait is ours (a minute of this clock); a Retry-After is the server's, real.
    if (code === 'BULK_RATE_LIMITED') this.s.budget.importsThrottled(retryAfterMs, now);
    else {
      this.s.metrics.retryAfterSeconds.inc({ connection: this.s.name }, retryAfterMs / 1000);
      this.s.budget.throttled(this.s.clock.fromReal(retryAfterMs), now);
    }
    this.s.log.warn({ code, retryAfterMs }, 'ActiveCampaign asked us to slow down');
  }

  markDown(code: string, message: string, now: number): void {
    const change = this.s.health.failed(code, now);
    if (change.kind !== 'down') return;
    this.s.log.error(
      { code, message },
      'The ActiveCampaign account is failing; delivery pauses and ' +
        'retries with backoff (nothing is dead-lettered for this)',
    );
    if (change.previous) this.s.metrics.accountDown.set({ connection: this.s.name, code: change.previous }, 0);
    this.s.metrics.accountDown.set({ connection: this.s.name, code }, 1);
  }

  /** Taken just before a request is sent, for up(): the failures seen so far (AccountHealth.mark). */
  sending(): number {
    return this.s.health.mark();
  }

  /** An answer to a request sent with `sent` (sending()): an outage is over, and the budget's pace recovers. */
  up(now: number, sent: number): void {
    this.s.budget.succeeded(now);
    const change = this.s.health.answered(sent);
    if (change.kind !== 'up') return;
    this.s.log.info({ after: change.after }, 'The ActiveCampaign account answers again; delivery resumes');
    this.s.metrics.accountDown.set({ connection: this.s.name, code: change.code }, 0);
  }

  updateGauges(): void {
    const c = { connection: this.s.name };
    this.s.metrics.bufferedContacts.set(c, this.s.buffer.contacts);
    this.s.metrics.bufferedBytes.set(c, this.s.buffer.bytes);
    this.s.metrics.unconfirmedImports.set(c, this.s.confirms.size);
    this.s.metrics.budgetUtilisation.set(c, this.s.budget.utilisation);
  }
}
