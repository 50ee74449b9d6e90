import type { ProfileRecord } from '../ledger/profiles.js';
import type { ProfileStore } from './outcomes.js';
import { trimOldest } from '../domain/bounded-map.js';
import { ProfileLookups, type LookupHost } from './profile-lookups.js';

/**
 * The email-change map of one connection: profile id → (ActiveCampaign contact id, email). The ledger's profile
 * records are the durable part (contact id and email hash, restored with their partitions: src/ledger/profiles.ts);
 * `known` is a cache of what this process saw, with the raw email a lookup needs, at most `maxProfiles` (the least
 * recently seen goes first), emptied on every assignment (a partition may have been away and changed meanwhile).
 * A profile first seen without a known contact id is looked up once (profile-lookups.ts) and recorded.
 */
export interface Known {
  /** The last email seen, raw (memory only); undefined for a profile known from its record alone. */
  email?: string;
  /** The email's hash as the record holds it (a profile known from its record). */
  hash?: string;
  contactId?: string;
  /** A restored record's open write-ahead: a PUT to this hash may have been sent. */
  changingTo?: string;
  occurredAt: number;
}

export interface ProfileMapHost<R> {
  connection: string;
  maxProfiles: number;
  /** The durable part; without it the map is this process's memory only. */
  store?: ProfileStore<R> | undefined;
  /** With a store and `perSecond` > 0: contact-id lookups of new profiles. */
  lookups?: Omit<LookupHost<R>, 'found' | 'max'> | undefined;
}

export class ProfileMap<R> {
  private readonly known = new Map<string, Known>();
  private readonly lookups: ProfileLookups<R> | undefined;

  constructor(private readonly h: ProfileMapHost<R>) {
    if (h.store && h.lookups && h.lookups.perSecond > 0) {
      this.lookups = new ProfileLookups<R>({
        ...h.lookups,
        max: Math.min(h.maxProfiles, 10_000),
        found: (id, email, contactId, ref) => this.found(id, email, contactId, ref),
      });
    }
  }

  get size(): number {
    return this.known.size;
  }

  /** Profiles waiting for a contact-id lookup. */
  get unresolved(): number {
    return this.lookups?.size ?? 0;
  }

  /** What is known of a profile: this process's cache, else its record (from the partition of `ref`). */
  of(profileId: string, ref: R): Known | undefined {
    const k = this.known.get(profileId);
    if (k) return k;
    const r = this.h.store?.get(this.h.connection, profileId, ref);
    if (!r) return undefined;
    return {
      hash: r.email,
      occurredAt: r.occurredAt,
      ...(r.contactId ? { contactId: r.contactId } : {}),
      ...(r.changingTo ? { changingTo: r.changingTo } : {}),
    };
  }

  /** Whether an event's email is a change (a restored open write-ahead always is: its PUT is repeated). */
  differs(k: Known, email: string): boolean {
    if (k.changingTo !== undefined) return true;
    if (k.email !== undefined) return k.email !== email;
    return k.hash !== undefined && this.h.store !== undefined && k.hash !== this.h.store.hash(email);
  }

  /** An event's email, not a change: remembered; a contact id not known yet is looked up. */
  seen(profileId: string, email: string, ref: R, occurredAt: number, contactId: string | undefined): void {
    this.remember(profileId, { email, occurredAt, ...(contactId ? { contactId } : {}) });
    if (!contactId) this.lookups?.want(profileId, email, ref, occurredAt);
  }

  /** A change is under way: no lookup meanwhile (the change finds the contact itself). */
  changing(profileId: string): void {
    this.lookups?.drop(profileId);
  }

  /** Write-ahead before a PUT: the contact and the email it is about to get. Resolves once acknowledged. */
  intend(profileId: string, ref: R, k: Known, to: string, contactId: string): Promise<void> {
    if (!this.h.store) return Promise.resolve();
    return this.h.store.put(this.h.connection, profileId, ref, {
      occurredAt: k.occurredAt,
      email: this.hashOf(k),
      contactId,
      changingTo: this.h.store.hash(to),
    });
  }

  /** A change's outcome: remembered and recorded (a SIGKILL before the record is acknowledged repeats the PUT). */
  settled(profileId: string, ref: R, k: Known): void {
    this.remember(profileId, k);
    this.record(profileId, ref, k);
    if (!k.contactId && k.email !== undefined) this.lookups?.want(profileId, k.email, ref, k.occurredAt);
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
    this.lookups?.close();
  }

  private remember(profileId: string, k: Known): void {
    // Insertion order is recency: a profile seen again moves to the end, the oldest goes first when full.
    this.known.delete(profileId);
    this.known.set(profileId, k);
    trimOldest(this.known, this.h.maxProfiles);
  }

  /** A lookup found the contact of a profile: remembered, and recorded in the ledger. */
  private found(profileId: string, email: string, contactId: string, ref: R): void {
    const k = this.known.get(profileId);
    // The profile moved on meanwhile, or was forgotten (an erasure, a new assignment): its next event asks again.
    if (!k || k.email !== email) return;
    k.contactId = contactId;
    this.record(profileId, ref, k);
  }

  private hashOf(k: Known): string {
    return k.email !== undefined ? this.h.store!.hash(k.email) : k.hash!;
  }

  /** Writes a profile record; one that cannot be written (the partition moved) is left to the next owner. */
  private record(profileId: string, ref: R, k: Known): void {
    if (!this.h.store) return;
    const r: ProfileRecord = {
      occurredAt: k.occurredAt,
      email: this.hashOf(k),
      ...(k.contactId ? { contactId: k.contactId } : {}),
    };
    void this.h.store.put(this.h.connection, profileId, ref, r).catch(() => undefined);
  }
}
