import type { ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import type { Answer } from './client.js';
import { contactIdOf, readPut } from './email-put.js';
import type { Change, EmailChangeHost, EmailChangeResult } from './email-change-host.js';
import { ProfileMap, type Known } from './profile-map.js';

/**
 * Email changes of one connection: a profile whose email changes keeps its ActiveCampaign contact. When an event of
 * a known profile carries another email, the contact gets the new one with PUT /contacts/{id} (its memberships,
 * fields and history stay), and the profile's changes are held until that answers, since a bulk import sent first
 * would create a second contact with the new email. One request at a time per change, each from the budget:
 *
 *   contact id unknown → GET /contacts?email=<old>; none → nothing to change: the held changes go as they are
 *   (with the ledger) the record with the contact id and `changingTo`, acknowledged: write-ahead for the PUT
 *   PUT /contacts/{id} {"contact":{"email":<new>}}, read by email-put.ts:
 *     changed → the record moves to the new email, the held changes go; missing (404) → they go as they are
 *     taken, or unchanged (200 with the old email) → GET /contacts?email=<new>: another contact has it → every held
 *       change is dead-lettered EMAIL_TAKEN with both ids, no emails; an unchanged answer and nobody else → failed
 *     failed (another refusal) → the held changes go as they are (a bulk import creates the new contact), logged
 *   429, 5xx, no answer → the same step again after the account's backoff.
 *
 * The map itself is profile-map.ts (the ledger's records, and a cache of what this process saw). README, "Email
 * changes".
 */
export class EmailChanges<R> {
  private readonly map: ProfileMap<R>;
  private readonly changing = new Map<string, Change<R>>();
  private closed = false;
  /** Results so far (tests, metrics). */
  readonly results: Record<EmailChangeResult, number> = { changed: 0, missing: 0, taken: 0, failed: 0, unresolved: 0 };

  constructor(private readonly h: EmailChangeHost<R>) {
    const { budget, clock, client, log, holds } = h;
    const lookups = {
      budget,
      clock,
      client,
      log,
      holds,
      perSecond: h.lookupsPerSecond ?? 0,
      changing: (id: string) => this.changing.has(id),
      onResult: (r: 'found' | 'absent') => h.onLookup?.(r),
    };
    this.map = new ProfileMap<R>({ connection: h.connection, maxProfiles: h.maxProfiles, store: h.store, lookups });
  }

  /** Held changes of profiles whose email is being changed. */
  get holding(): number {
    let n = 0;
    for (const c of this.changing.values()) n += c.held.length;
    return n;
  }

  get profiles(): number {
    return this.map.size;
  }

  /** Profiles waiting for a contact-id lookup. */
  get unresolved(): number {
    return this.map.unresolved;
  }

  /** An event's change for this connection, with its profile id: into the buffer, or held behind an email change. */
  add(profileId: string, update: ContactUpdate<R>): MergeOutcome {
    const pending = this.changing.get(profileId);
    if (pending) {
      pending.held.push(update);
      return 'new';
    }
    const k = this.map.of(profileId, update.ref);
    const occurredAt = Math.max(k?.occurredAt ?? 0, update.occurredAt);
    if (!k || !this.h.client.updateContactEmail || !this.map.differs(k, update.email)) {
      this.map.seen(profileId, update.email, update.ref, occurredAt, k?.contactId);
      return this.h.add(update);
    }
    if (k.contactId === undefined && k.email === undefined) {
      // Known from its record alone, without a contact id: there is nothing to change the email on.
      this.count('unresolved');
      this.map.seen(profileId, update.email, update.ref, occurredAt, undefined);
      return this.h.add(update);
    }
    const change: Change<R> = { profileId, to: update.email, occurredAt, ref: update.ref, held: [update] };
    if (k.email !== undefined) change.from = k.email;
    else if (k.hash !== undefined) change.fromHash = k.hash;
    if (k.contactId !== undefined) change.contactId = k.contactId;
    this.changing.set(profileId, change);
    this.map.changing(profileId);
    this.step(change);
    return 'new';
  }

  /** A new assignment: what this process saw may be out of date; the ledger's records answer again. */
  reassigned(): void {
    this.map.reassigned();
  }

  /**
   * An erasure: the profile, and any profile seen with this email, are forgotten;
   * a change under way records nothing more.
   */
  forget(profileId: string, email: string): void {
    this.map.forget(profileId, email);
    for (const c of this.changing.values())
      if (c.profileId === profileId || c.from === email || c.to === email) c.erased = true;
  }

  close(): void {
    this.closed = true;
    this.map.close();
    for (const c of this.changing.values()) c.timer?.cancel();
  }

  /** Runs the next request of a change when the budget allows. */
  private step(c: Change<R>): void {
    if (this.closed) return;
    const now = this.h.clock.now();
    const ready = this.h.budget.readyAt('request', now);
    if (ready > now) {
      c.timer = this.h.clock.after(ready - now, () => this.step(c));
      return;
    }
    // An import of the old email sent after the PUT would create a contact with it again: it goes first.
    if (c.from !== undefined && (c.contactId === undefined || c.takenBy === undefined) && this.h.holds(c.from)) {
      c.timer = this.h.clock.after(200, () => this.step(c));
      return;
    }
    this.h.budget.spend('request', now);
    void this.request(c).catch((err: unknown) => {
      this.h.log.warn(
        { err: (err as Error).message },
        'An email change failed unexpectedly; its changes go on as they are',
      );
      this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'failed');
    });
  }

  private async request(c: Change<R>): Promise<void> {
    if (c.contactId === undefined) {
      const a = await this.h.client.findContact(c.from!);
      if (this.again(c, a)) return;
      const found = a.verdict.kind === 'ok' ? contactIdOf(a.body, c.from!) : undefined;
      if (found === undefined) return this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'missing');
      c.contactId = found;
      return this.step(c);
    }
    if (c.takenBy === undefined) {
      if (!c.intended) {
        // Write-ahead: the contact and the email it is about to get are durable before the PUT goes out.
        try {
          await this.map.intend(c.profileId, c.ref, this.stays(c), c.to, c.contactId);
        } catch {
          return this.abandon(c);
        }
        c.intended = true;
      }
      const a = await this.h.client.updateContactEmail!(c.contactId, c.to);
      if (this.again(c, a)) return;
      const reading = readPut(a, c.to);
      if (reading === 'changed')
        return this.release(c, { email: c.to, contactId: c.contactId, occurredAt: c.occurredAt }, 'changed');
      if (reading === 'missing') return this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'missing');
      if (reading === 'failed') {
        this.h.log.warn(
          { status: a.status },
          'PUT /contacts/{id} refused an email change; the changes go on as they are',
        );
        return this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'failed');
      }
      c.reading = reading;
      c.takenBy = null;
      return this.step(c);
    }
    const a = await this.h.client.findContact(c.to);
    if (this.again(c, a)) return;
    const other = contactIdOf(a.body, c.to);
    if (other === c.contactId)
      return this.release(c, { email: c.to, contactId: c.contactId, occurredAt: c.occurredAt }, 'changed');
    if (other === undefined && c.reading === 'unchanged') {
      this.h.log.warn(
        'PUT /contacts/{id} kept the old email and no other contact has the new one; the changes go on as they are',
      );
      return this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'failed');
    }
    this.changing.delete(c.profileId);
    this.count('taken');
    // The profile stays on its old contact: a later event tries the change again.
    if (!c.erased) this.map.settled(c.profileId, c.ref, this.stays(c));
    const message =
      `the profile's new email already belongs to contact ${other ?? 'unknown'}; ` +
      `contact ${c.contactId} keeps its email (PUT /contacts/{id} answered that it is taken)`;
    this.h.outcomes.dead(
      c.held.map((u) => u.ref),
      'deliver',
      'EMAIL_TAKEN',
      message,
    );
    this.h.log.error(
      { contact: c.contactId, other },
      'An email change was dead-lettered EMAIL_TAKEN: the new email belongs to another contact',
    );
    this.h.onIdle?.();
  }

  /** A throttled or failing account: the same step again after the wait. */
  private again(c: Change<R>, a: Answer<unknown>): boolean {
    if (a.verdict.kind !== 'throttled' && a.verdict.kind !== 'account') return false;
    const wait =
      a.verdict.kind === 'throttled' ? Math.max(100, this.h.clock.fromReal(a.verdict.retryAfterMs ?? 1_000)) : 1_000;
    c.timer = this.h.clock.after(wait, () => this.step(c));
    return true;
  }

  private count(result: EmailChangeResult): void {
    this.results[result]++;
    this.h.onResult?.(result);
  }

  /** The profile as it stands before the change (and after a refused one): its old email, its contact. */
  private stays(c: Change<R>): Known {
    return {
      occurredAt: c.occurredAt,
      ...(c.contactId ? { contactId: c.contactId } : {}),
      ...(c.from !== undefined ? { email: c.from } : { hash: c.fromHash! }),
    };
  }

  private release(c: Change<R>, k: Known, result: EmailChangeResult): void {
    this.changing.delete(c.profileId);
    this.count(result);
    if (!c.erased) this.map.settled(c.profileId, c.ref, k);
    this.h.contactsChanged?.(c.from !== undefined ? [c.from, c.to] : undefined);
    for (const u of c.held) this.h.add(u);
    this.h.onIdle?.();
  }

  /**
   * The write-ahead could not be written (the partition is no longer owned, or the ledger closed): no PUT, and the
   * held changes are not sent either; they stay unsettled, and the partition's next owner fetches them again.
   */
  private abandon(c: Change<R>): void {
    this.changing.delete(c.profileId);
    this.count('failed');
    this.h.log.warn(
      'An email change was not started: its profile record could not be written ' +
        '(the partition moved, or the service stops); its events are fetched again',
    );
    this.h.onIdle?.();
  }
}
