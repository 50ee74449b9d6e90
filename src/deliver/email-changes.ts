import type { Logger } from 'pino';
import type { ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import type { ProfileRecord } from '../ledger/profiles.js';
import type { RateBudget } from './budget.js';
import type { AcApi, Answer } from './client.js';
import type { Clock, Timer } from './clock.js';
import { contactIdOf, readPut, type PutReading } from './email-put.js';
import type { DeliveryOutcomes, ProfileStore } from './outcomes.js';
import { ProfileLookups } from './profile-lookups.js';

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
 * The map: the ledger's profile records (contact id, email hash) are the durable part, restored with their
 * partitions; `known` here is a cache of what this process saw (the raw email, for lookups), at most
 * `maxProfiles`, emptied on every assignment. README, "Email changes".
 */
export interface EmailChangeHost<R> {
  connection: string;
  budget: RateBudget;
  clock: Clock;
  client: AcApi;
  outcomes: DeliveryOutcomes<R>;
  /** Into the account's buffer. */
  add(update: ContactUpdate<R>): MergeOutcome;
  /** Whether anything of this email is buffered or in flight: the PUT waits until the old email's changes are done. */
  holds(email: string): boolean;
  log: Logger;
  /** Profiles held in the cache, at most (the oldest entry is forgotten first). */
  maxProfiles: number;
  /** The durable map (the ledger's profile records); without it the map is this process's memory only. */
  store?: ProfileStore<R> | undefined;
  /** Contact-id lookups of new profiles per second, at most (with a store); 0 or absent: none. */
  lookupsPerSecond?: number | undefined;
  /** A change ended (its held changes went on or were dead-lettered): the account may be idle now. */
  onIdle?: () => void;
  /** Each change's result (the email_changes metric), and each lookup's (profile_lookups). */
  onResult?: (result: EmailChangeResult) => void;
  onLookup?: (result: 'found' | 'absent') => void;
}

interface Known {
  /** The last email seen, raw (memory only); undefined for a profile known from its record alone. */
  email?: string;
  /** The email's hash as the record holds it (with a store). */
  hash?: string;
  contactId?: string;
  /** A restored record's open write-ahead: a PUT to this hash may have been sent. */
  changingTo?: string;
  occurredAt: number;
}

interface Change<R> {
  profileId: string;
  from?: string;
  fromHash?: string;
  to: string;
  contactId?: string;
  /** After a taken or unchanged answer: the id of the contact that has the new email, once looked up. */
  takenBy?: string | null;
  reading?: PutReading;
  intended?: boolean;
  occurredAt: number;
  /** The event that started it: its partition holds the profile's record. */
  ref: R;
  held: ContactUpdate<R>[];
  timer?: Timer;
}

export type EmailChangeResult = 'changed' | 'missing' | 'taken' | 'failed' | 'unresolved';

export class EmailChanges<R> {
  private readonly known = new Map<string, Known>();
  private readonly changing = new Map<string, Change<R>>();
  private readonly lookups: ProfileLookups<R> | undefined;
  private closed = false;
  /** Results so far (tests, metrics). */
  readonly results: Record<EmailChangeResult, number> = { changed: 0, missing: 0, taken: 0, failed: 0, unresolved: 0 };

  constructor(private readonly h: EmailChangeHost<R>) {
    const perSecond = h.lookupsPerSecond ?? 0;
    if (h.store && perSecond > 0) {
      const { budget, clock, client, log, holds } = h;
      this.lookups = new ProfileLookups<R>({ budget, clock, client, log, holds, perSecond, max: Math.min(h.maxProfiles, 10_000), changing: (id) => this.changing.has(id), found: (...a) => this.found(...a), onResult: (r) => h.onLookup?.(r) });
    }
  }

  /** Held changes of profiles whose email is being changed. */
  get holding(): number {
    let n = 0;
    for (const c of this.changing.values()) n += c.held.length;
    return n;
  }

  get profiles(): number {
    return this.known.size;
  }

  /** Profiles waiting for a contact-id lookup. */
  get unresolved(): number {
    return this.lookups?.size ?? 0;
  }

  /** An event's change for this connection, with its profile id: into the buffer, or held behind an email change. */
  add(profileId: string, update: ContactUpdate<R>): MergeOutcome {
    const pending = this.changing.get(profileId);
    if (pending) {
      pending.held.push(update);
      return 'new';
    }
    const k = this.known.get(profileId) ?? this.restored(profileId, update.ref);
    const occurredAt = Math.max(k?.occurredAt ?? 0, update.occurredAt);
    if (!k || !this.h.client.updateContactEmail || !this.differs(k, update.email)) {
      const contactId = k?.contactId;
      this.remember(profileId, { email: update.email, occurredAt, ...(contactId ? { contactId } : {}) });
      if (!contactId) this.lookups?.want(profileId, update.email, update.ref, occurredAt);
      return this.h.add(update);
    }
    if (k.contactId === undefined && k.email === undefined) {
      // Known from its record alone, without a contact id: there is nothing to change the email on.
      this.count('unresolved');
      this.remember(profileId, { email: update.email, occurredAt });
      this.lookups?.want(profileId, update.email, update.ref, occurredAt);
      return this.h.add(update);
    }
    const change: Change<R> = { profileId, to: update.email, occurredAt, ref: update.ref, held: [update] };
    if (k.email !== undefined) change.from = k.email;
    if (k.hash !== undefined && k.email === undefined) change.fromHash = k.hash;
    if (k.contactId !== undefined) change.contactId = k.contactId;
    this.changing.set(profileId, change);
    this.lookups?.drop(profileId);
    this.step(change);
    return 'new';
  }

  /** A new assignment: what this process saw may be out of date; the ledger's records answer again. */
  reassigned(): void {
    this.known.clear();
    this.lookups?.clear();
  }

  /** An erasure: the profile, and any profile seen with this email, are forgotten. */
  forget(profileId: string, email: string): void {
    this.known.delete(profileId);
    for (const [id, k] of this.known) if (k.email === email) this.known.delete(id);
    this.lookups?.drop(profileId);
    this.lookups?.dropEmail(email);
  }

  close(): void {
    this.closed = true;
    this.lookups?.close();
    for (const c of this.changing.values()) c.timer?.cancel();
  }

  private restored(profileId: string, ref: R): Known | undefined {
    const r = this.h.store?.get(this.h.connection, profileId, ref);
    if (!r) return undefined;
    return { hash: r.email, occurredAt: r.occurredAt, ...(r.contactId ? { contactId: r.contactId } : {}), ...(r.changingTo ? { changingTo: r.changingTo } : {}) };
  }

  /** Whether an event's email is a change (a restored open write-ahead always is: its PUT is repeated). */
  private differs(k: Known, email: string): boolean {
    if (k.changingTo !== undefined) return true;
    if (k.email !== undefined) return k.email !== email;
    return k.hash !== undefined && this.h.store !== undefined && k.hash !== this.h.store.hash(email);
  }

  private remember(profileId: string, k: Known): void {
    // Insertion order is recency: a profile seen again moves to the end, the oldest goes first when full.
    this.known.delete(profileId);
    this.known.set(profileId, k);
    if (this.known.size > this.h.maxProfiles) this.known.delete(this.known.keys().next().value!);
  }

  /** A lookup found the contact of a profile: remembered, and recorded in the ledger. */
  private found(profileId: string, email: string, contactId: string, ref: R, occurredAt: number): void {
    const k = this.known.get(profileId);
    if (k && k.email !== email) return; // the profile moved on meanwhile
    if (k) k.contactId = contactId;
    void this.record(profileId, ref, { occurredAt: Math.max(occurredAt, k?.occurredAt ?? 0), email: this.hash(email)!, contactId }).catch(() => undefined);
  }

  private hash(email: string): string | undefined {
    return this.h.store?.hash(email);
  }

  /** Writes a profile record; one that cannot be written (the partition moved) is left to the next owner. */
  private record(profileId: string, ref: R, r: ProfileRecord): Promise<void> {
    if (!this.h.store) return Promise.resolve();
    return this.h.store.put(this.h.connection, profileId, ref, r);
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
      this.h.log.warn({ err: (err as Error).message }, 'An email change failed unexpectedly; its changes go on as they are');
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
      if (this.h.store && !c.intended) {
        // Write-ahead: the contact and the email it is about to get are durable before the PUT goes out.
        const ahead = { occurredAt: c.occurredAt, email: c.fromHash ?? this.hash(c.from!)!, contactId: c.contactId, changingTo: this.hash(c.to)! };
        try {
          await this.record(c.profileId, c.ref, ahead);
        } catch {
          return this.abandon(c);
        }
        c.intended = true;
      }
      const a = await this.h.client.updateContactEmail!(c.contactId, c.to);
      if (this.again(c, a)) return;
      const reading = readPut(a, c.to);
      if (reading === 'changed') return this.release(c, { email: c.to, contactId: c.contactId, occurredAt: c.occurredAt }, 'changed');
      if (reading === 'missing') return this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'missing');
      if (reading === 'failed') {
        this.h.log.warn({ status: a.status }, 'PUT /contacts/{id} refused an email change; the changes go on as they are');
        return this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'failed');
      }
      c.reading = reading;
      c.takenBy = null;
      return this.step(c);
    }
    const a = await this.h.client.findContact(c.to);
    if (this.again(c, a)) return;
    const other = contactIdOf(a.body, c.to);
    if (other === c.contactId) return this.release(c, { email: c.to, contactId: c.contactId, occurredAt: c.occurredAt }, 'changed');
    if (other === undefined && c.reading === 'unchanged') {
      this.h.log.warn('PUT /contacts/{id} kept the old email and no other contact has the new one; the changes go on as they are');
      return this.release(c, { email: c.to, occurredAt: c.occurredAt }, 'failed');
    }
    this.changing.delete(c.profileId);
    this.count('taken');
    // The profile stays on its old contact: a later event tries the change again.
    const stays: Known = { contactId: c.contactId, occurredAt: c.occurredAt, ...(c.from !== undefined ? { email: c.from } : { hash: c.fromHash! }) };
    this.remember(c.profileId, stays);
    this.recordKnown(c, stays);
    const message = `the profile's new email already belongs to contact ${other ?? 'unknown'}; contact ${c.contactId} keeps its email (PUT /contacts/{id} answered that it is taken)`;
    this.h.outcomes.dead(c.held.map((u) => u.ref), 'deliver', 'EMAIL_TAKEN', message);
    this.h.log.error({ contact: c.contactId, other }, 'An email change was dead-lettered EMAIL_TAKEN: the new email belongs to another contact');
    this.h.onIdle?.();
  }

  /** A throttled or failing account: the same step again after the wait. */
  private again(c: Change<R>, a: Answer<unknown>): boolean {
    if (a.verdict.kind !== 'throttled' && a.verdict.kind !== 'account') return false;
    const wait = a.verdict.kind === 'throttled' ? Math.max(100, this.h.clock.fromReal(a.verdict.retryAfterMs ?? 1_000)) : 1_000;
    c.timer = this.h.clock.after(wait, () => this.step(c));
    return true;
  }

  private count(result: EmailChangeResult): void {
    this.results[result]++;
    this.h.onResult?.(result);
  }

  /** The outcome's record (after the PUT answered): a SIGKILL before it is acknowledged repeats the PUT (README). */
  private recordKnown(c: Change<R>, k: Known): void {
    if (!this.h.store) return;
    const email = k.email !== undefined ? this.hash(k.email)! : k.hash!;
    void this.record(c.profileId, c.ref, { occurredAt: k.occurredAt, email, ...(k.contactId ? { contactId: k.contactId } : {}) }).catch(() => undefined);
  }

  private release(c: Change<R>, k: Known, result: EmailChangeResult): void {
    this.changing.delete(c.profileId);
    this.count(result);
    this.remember(c.profileId, k);
    this.recordKnown(c, k);
    if (!k.contactId) this.lookups?.want(c.profileId, c.to, c.ref, c.occurredAt);
    for (const u of c.held) this.h.add(u);
    this.h.onIdle?.();
  }

  /**
   * The write-ahead could not be written (the partition is no longer owned, or the ledger closed): no PUT, and the
   * held changes are not sent either; they stay unsettled, and the partition's next owner fetches them again.
   */
  private abandon(c: Change<R>): void {
    this.changing.delete(c.profileId);
    this.known.delete(c.profileId);
    this.count('failed');
    this.h.log.warn('An email change was not started: its profile record could not be written (the partition moved, or the service stops); its events are fetched again');
    this.h.onIdle?.();
  }
}
