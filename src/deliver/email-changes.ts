import type { Logger } from 'pino';
import type { ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import type { RateBudget } from './budget.js';
import type { AcApi, Answer, ContactsFound } from './client.js';
import type { Clock, Timer } from './clock.js';
import type { DeliveryOutcomes } from './outcomes.js';

/**
 * Email changes of one connection: a profile whose email changes keeps its ActiveCampaign contact. The map
 * profile id → (contact id, email) is held in memory; when an event of a known profile carries another email, the
 * contact of the old email gets the new one with PUT /contacts/{id} (its memberships, fields and history stay),
 * and the profile's changes are held until that answers, since a bulk import sent first would create a second
 * contact with the new email. One request at a time per change, each from the account's budget:
 *
 *   contact id unknown → GET /contacts?email=<old>; none → nothing to change: the held changes go as they are
 *   PUT /contacts/{id} {"contact":{"email":<new>}}: 200 → the map moves to the new email, the held changes go
 *                                                   404 → the contact is gone: the held changes go as they are
 *                                                   422 → the email is taken: GET /contacts?email=<new> for the
 *                                                         other contact's id, then every held change is
 *                                                         dead-lettered EMAIL_TAKEN with both ids, no emails
 *   429, 5xx, no answer → the same step again after the account's backoff; any other refusal: the held changes go
 *                         as they are (as before this existed: a bulk import creates the new contact), logged.
 *
 * The map is rebuilt from the events as they are consumed (README, "Email changes": restore and memory).
 */
export interface EmailChangeHost<R> {
  budget: RateBudget;
  clock: Clock;
  client: AcApi;
  outcomes: DeliveryOutcomes<R>;
  /** Into the account's buffer. */
  add(update: ContactUpdate<R>): MergeOutcome;
  /** Whether anything of this email is buffered or in flight: the PUT waits until the old email's changes are done. */
  holds(email: string): boolean;
  log: Logger;
  /** Profiles held in the map, at most (the oldest entry is forgotten first). */
  maxProfiles: number;
  /** A change ended (its held changes went on or were dead-lettered): the account may be idle now. */
  onIdle?: () => void;
  /** Each change's result (the email_changes metric). */
  onResult?: (result: EmailChangeResult) => void;
}

interface Known {
  email: string;
  contactId?: string;
}

interface Change<R> {
  profileId: string;
  from: string;
  to: string;
  contactId?: string;
  /** After a 422: the id of the contact that has the new email. */
  takenBy?: string | null;
  held: ContactUpdate<R>[];
  timer?: Timer;
}

export type EmailChangeResult = 'changed' | 'missing' | 'taken' | 'failed';

export class EmailChanges<R> {
  private readonly known = new Map<string, Known>();
  private readonly changing = new Map<string, Change<R>>();
  private closed = false;
  /** Results so far (tests, metrics). */
  readonly results: Record<EmailChangeResult, number> = { changed: 0, missing: 0, taken: 0, failed: 0 };

  constructor(private readonly h: EmailChangeHost<R>) {}

  /** Held changes of profiles whose email is being changed. */
  get holding(): number {
    let n = 0;
    for (const c of this.changing.values()) n += c.held.length;
    return n;
  }

  get profiles(): number {
    return this.known.size;
  }

  /** An event's change for this connection, with its profile id: into the buffer, or held behind an email change. */
  add(profileId: string, update: ContactUpdate<R>): MergeOutcome {
    const pending = this.changing.get(profileId);
    if (pending) {
      pending.held.push(update);
      return 'new';
    }
    const k = this.known.get(profileId);
    if (!k || k.email === update.email || !this.h.client.updateContactEmail) {
      // The same email (the common case) keeps its entry, contact id included: no object per event.
      this.remember(profileId, k?.email === update.email ? k : { email: update.email });
      return this.h.add(update);
    }
    const change: Change<R> = { profileId, from: k.email, to: update.email, held: [update], ...(k.contactId ? { contactId: k.contactId } : {}) };
    this.changing.set(profileId, change);
    this.step(change);
    return 'new';
  }

  close(): void {
    this.closed = true;
    for (const c of this.changing.values()) c.timer?.cancel();
  }

  private remember(profileId: string, k: Known): void {
    // Insertion order is recency: a profile seen again moves to the end, the oldest goes first when full.
    this.known.delete(profileId);
    this.known.set(profileId, k);
    if (this.known.size > this.h.maxProfiles) this.known.delete(this.known.keys().next().value!);
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
    if (c.contactId === undefined || c.takenBy === undefined) {
      if (this.h.holds(c.from)) {
        c.timer = this.h.clock.after(200, () => this.step(c));
        return;
      }
    }
    this.h.budget.spend('request', now);
    void this.request(c).catch((err: unknown) => {
      this.h.log.warn({ err: (err as Error).message }, 'An email change failed unexpectedly; its changes go on as they are');
      this.release(c, { email: c.to }, 'failed');
    });
  }

  private async request(c: Change<R>): Promise<void> {
    if (c.contactId === undefined) {
      const a = await this.h.client.findContact(c.from);
      if (this.again(c, a)) return;
      const found = idOf(a.body, c.from);
      if (a.verdict.kind !== 'ok' || found === undefined) return this.release(c, { email: c.to }, 'missing');
      c.contactId = found;
      return this.step(c);
    }
    if (c.takenBy === undefined) {
      const a = await this.h.client.updateContactEmail!(c.contactId, c.to);
      if (this.again(c, a)) return;
      if (a.status >= 200 && a.status < 300) return this.release(c, { email: c.to, contactId: c.contactId }, 'changed');
      if (a.status === 404) return this.release(c, { email: c.to }, 'missing');
      if (a.status === 422) {
        c.takenBy = null;
        return this.step(c);
      }
      this.h.log.warn({ status: a.status }, 'PUT /contacts/{id} refused an email change; the changes go on as they are');
      return this.release(c, { email: c.to }, 'failed');
    }
    const a = await this.h.client.findContact(c.to);
    if (this.again(c, a)) return;
    const other = idOf(a.body, c.to) ?? 'unknown';
    this.changing.delete(c.profileId);
    this.results.taken++;
    this.h.onResult?.('taken');
    // The profile stays on its old contact: a later event tries the change again.
    this.remember(c.profileId, { email: c.from, contactId: c.contactId });
    const message = `the profile's new email already belongs to contact ${other}; contact ${c.contactId} keeps its email (PUT /contacts/{id} answered 422)`;
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

  private release(c: Change<R>, k: Known, result: EmailChangeResult): void {
    this.changing.delete(c.profileId);
    this.results[result]++;
    this.h.onResult?.(result);
    this.remember(c.profileId, k);
    for (const u of c.held) this.h.add(u);
    this.h.onIdle?.();
  }
}

function idOf(body: unknown, email: string): string | undefined {
  const found = (body as ContactsFound | undefined)?.contacts?.find((x) => x.email.toLowerCase() === email);
  return found ? String(found.id) : undefined;
}
