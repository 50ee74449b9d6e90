import type { Logger } from 'pino';
import type { RateBudget } from './budget.js';
import type { AcApi } from './client.js';
import type { Clock, Timer } from './clock.js';
import { Backoff } from '../domain/backoff.js';
import { trimOldest } from '../domain/bounded-map.js';
import { contactIdOf } from './email-put.js';

/**
 * Contact-id lookups of new profiles (email-changes.ts): the profile records in the ledger hold no email, so the
 * contact of a profile must be learnt while its email is at hand, or an email change after a restart could not
 * find it. Once per profile and connection (the record keeps it), one `GET /contacts?email=` from the account's
 * budget, at most `perSecond`, and only once nothing of the email is buffered or in flight (its import has created
 * the contact by then, or never will). At most `max` profiles wait; the oldest is forgotten first (looked up
 * again at its next event).
 */
export interface LookupHost<R> {
  budget: RateBudget;
  clock: Clock;
  client: AcApi;
  log: Logger;
  perSecond: number;
  max: number;
  holds(email: string): boolean;
  /** Whether an email change of the profile is under way (it finds the contact itself). */
  changing(profileId: string): boolean;
  found(profileId: string, email: string, contactId: string, ref: R, occurredAt: number): void;
  onResult?(result: 'found' | 'absent'): void;
}

interface Wanted<R> {
  email: string;
  ref: R;
  occurredAt: number;
}

/** How many waiting profiles one look scans for one whose email is free. */
const SCAN = 64;

export class ProfileLookups<R> {
  private readonly wanted = new Map<string, Wanted<R>>();
  private timer: Timer | undefined;
  private busy = false;
  private nextAt = 0;
  /** Account failures in a row (1 s doubling to 60 s); a lookup that is answered resets it. */
  private readonly failing = new Backoff({ initialMs: 1_000, maxMs: 60_000 });
  private closed = false;

  constructor(private readonly h: LookupHost<R>) {}

  get size(): number {
    return this.wanted.size;
  }

  /** The profile's contact id is not known: look it up (a profile already waiting keeps its place). */
  want(profileId: string, email: string, ref: R, occurredAt: number): void {
    this.wanted.set(profileId, { email, ref, occurredAt });
    trimOldest(this.wanted, this.h.max);
    this.schedule(0);
  }

  drop(profileId: string): void {
    this.wanted.delete(profileId);
  }

  /** Forgets every profile waiting with this email (an erasure). */
  dropEmail(email: string): void {
    for (const [id, w] of this.wanted) if (w.email === email) this.wanted.delete(id);
  }

  clear(): void {
    this.wanted.clear();
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed || this.busy) return;
    this.timer = this.h.clock.after(ms, () => {
      this.timer = undefined;
      this.look();
    });
  }

  private look(): void {
    if (this.busy || this.closed || this.wanted.size === 0) return;
    const now = this.h.clock.now();
    const ready = Math.max(this.nextAt, this.h.budget.readyAt('request', now));
    if (ready > now) return void this.schedule(ready - now);
    let pick: [string, Wanted<R>] | undefined;
    let scanned = 0;
    for (const entry of this.wanted) {
      if (scanned++ >= SCAN) break;
      if (!this.h.holds(entry[1].email) && !this.h.changing(entry[0])) {
        pick = entry;
        break;
      }
    }
    if (!pick) return void this.schedule(200);
    const [profileId, w] = pick;
    this.wanted.delete(profileId);
    this.h.budget.spend('request', now);
    this.nextAt = now + 1_000 / this.h.perSecond;
    this.busy = true;
    void this.h.client.findContact(w.email).then(
      (a) => {
        this.busy = false;
        if (a.verdict.kind === 'throttled' || a.verdict.kind === 'account') {
          if (!this.wanted.has(profileId)) this.wanted.set(profileId, w);
          // A failing account (a refused token, an outage) is waited out with a growing backoff: these lookups are
          // background work and must not keep taking the request slots the readiness probe needs to see it.
          const wait =
            a.verdict.kind === 'throttled'
              ? this.h.clock.fromReal(a.verdict.retryAfterMs ?? 1_000)
              : this.failing.next();
          this.nextAt = Math.max(this.nextAt, this.h.clock.now() + wait);
        } else {
          this.failing.reset();
          const id = a.verdict.kind === 'ok' ? contactIdOf(a.body, w.email) : undefined;
          this.h.onResult?.(id ? 'found' : 'absent');
          if (id) this.h.found(profileId, w.email, id, w.ref, w.occurredAt);
        }
        this.schedule(0);
      },
      (err: unknown) => {
        this.busy = false;
        this.h.log.warn({ err: (err as Error).message }, 'A contact-id lookup of a profile failed unexpectedly');
        this.schedule(1_000);
      },
    );
  }
}
