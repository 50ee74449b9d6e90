import { storedObject } from '../domain/stored-json.js';
import type { PersonHasher } from './erasure.js';

/**
 * Profile records, pure: the durable half of the email-change map (src/deliver/email-changes.ts). One record per
 * (connection, profile) in the ledger topic, in the partition of the profile's events, beside its list records:
 * the ActiveCampaign contact of the profile once known, and a hash of its current email. It holds no email and no
 * profile id: the key carries the keyed hash (PersonHasher, ledger.hashKey) of the profile id, the value a
 * shortened keyed hash of the normalised email, which is only ever compared with the hash of an event's email.
 *
 * A record is written (acknowledged) before `PUT /contacts/{id}` goes out, with `changingTo` set: after a crash
 * between the PUT and its outcome, the next event of the profile repeats the PUT (harmless: the contact has that
 * email already, or gets it). Newest wins by `occurredAt` (the event whose email it holds), on restore and live;
 * an equal time replaces, as for list records (a later offset at the same time is the outcome of an intent).
 * Older tools skip these records: the key does not split as a ledger key, the value is not a ledger record.
 */
export interface ProfileRecord {
  /** occurredAt of the event whose email the record holds, epoch ms. */
  occurredAt: number;
  /** emailHash() of the profile's current email. */
  email: string;
  /** The ActiveCampaign contact id, once known (a lookup, or the contact an email change was made on). */
  contactId?: string;
  /** Write-ahead: a PUT giving the contact the email with this hash may have been sent. */
  changingTo?: string;
}

const SEP = '\u0000';
const TAG = `${SEP}profile${SEP}`;
/** 16 base64url characters: 96 bits of the keyed hash, plenty to tell one profile's emails apart. */
const EMAIL_HASH_CHARS = 16;

/** `<connection>\u0000\u0000profile\u0000<digest>`: four parts, so splitLedgerKey() never takes it for a list's key. */
export function profileKey(hasher: PersonHasher, connection: string, profileId: string): string {
  return `${connection}${SEP}${TAG}${hasher.digest(`profile${SEP}${profileId}`)}`;
}

/** Whether a key is a profile record's: the connection, then `\u0000\u0000profile\u0000` (one probe, no scan). */
export function isProfileKey(key: string): boolean {
  const i = key.indexOf(SEP);
  return i >= 0 && key.startsWith(`${SEP}${TAG}`, i);
}

/** The connection a profile key belongs to. */
export function profileConnection(key: string): string {
  return key.slice(0, key.indexOf(SEP));
}

/** The shortened keyed hash of a normalised email that profile records hold. */
export function emailHash(hasher: PersonHasher, email: string): string {
  return hasher.digest(email).slice(0, EMAIL_HASH_CHARS);
}

export function encodeProfile(r: ProfileRecord): string {
  const value: Record<string, unknown> = { v: 1, profile: true, occurredAt: r.occurredAt, email: r.email };
  if (r.contactId !== undefined) value.contactId = r.contactId;
  if (r.changingTo !== undefined) value.changingTo = r.changingTo;
  return JSON.stringify(value);
}

export function decodeProfile(raw: Buffer | string | null): ProfileRecord | undefined {
  const o = storedObject(raw);
  if (o?.v !== 1 || o.profile !== true || typeof o.occurredAt !== 'number' || typeof o.email !== 'string')
    return undefined;
  const r: ProfileRecord = { occurredAt: o.occurredAt, email: o.email };
  if (typeof o.contactId === 'string' && /^[0-9]+$/.test(o.contactId)) r.contactId = o.contactId;
  if (typeof o.changingTo === 'string') r.changingTo = o.changingTo;
  return r;
}

/**
 * What a slot keeps of a record, small: the contact id as a number (ActiveCampaign's ids are numeric strings;
 * NaN: not known), the hashes as the short strings they are.
 */
interface Held {
  at: number;
  email: string;
  contact: number;
  changingTo: string | undefined;
}

const toHeld = (r: ProfileRecord): Held => ({
  at: r.occurredAt,
  email: r.email,
  contact: r.contactId === undefined ? NaN : Number(r.contactId),
  changingTo: r.changingTo,
});

function fromHeld(h: Held): ProfileRecord {
  const r: ProfileRecord = { occurredAt: h.at, email: h.email };
  if (!Number.isNaN(h.contact)) r.contactId = String(h.contact);
  if (h.changingTo !== undefined) r.changingTo = h.changingTo;
  return r;
}

/** The profile records of one ledger partition (its slot), by key. */
export class ProfileTable {
  private readonly held = new Map<string, Held>();

  get size(): number {
    return this.held.size;
  }

  get(key: string): ProfileRecord | undefined {
    const h = this.held.get(key);
    return h ? fromHeld(h) : undefined;
  }

  /** Sets the record unless the key holds a newer one (newest by occurredAt; an equal time replaces). */
  set(key: string, r: ProfileRecord): boolean {
    const h = this.held.get(key);
    if (h && h.at > r.occurredAt) return false;
    this.held.set(key, toHeld(r));
    return true;
  }

  /** A record read by a restore: a tombstone (null) forgets the key; anything unreadable is skipped. */
  restored(key: string, value: Buffer | null): void {
    if (value === null || value.length === 0) {
      this.held.delete(key);
      return;
    }
    const r = decodeProfile(value);
    if (r) this.set(key, r);
  }

  delete(key: string): boolean {
    return this.held.delete(key);
  }

  /** Keys of this connection whose record holds (or is changing to) this email hash: an erasure forgets them. */
  keysWithEmail(connection: string, hash: string): string[] {
    const out: string[] = [];
    const prefix = `${connection}${SEP}${TAG}`;
    for (const [key, h] of this.held)
      if ((h.email === hash || h.changingTo === hash) && key.startsWith(prefix)) out.push(key);
    return out;
  }
}
