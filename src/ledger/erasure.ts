import { createHmac } from 'node:crypto';
import { storedObject } from '../domain/stored-json.js';
import type { LedgerEntry } from './hash-index.js';

/**
 * Erasure in the ledger, pure: the suppression marker an erasure leaves, and the decisions it takes part in.
 *
 * A marker stands for "this person was erased, as of occurredAt" on one connection. It holds no raw email: its
 * key carries a keyed hash (HMAC-SHA-256) of the normalised email, its value only times
 * (schemas/erasure-marker.schema.json). It is written twice: as a write-ahead intent before the contact is
 * deleted (so that from then on, and after a crash, older events are suppressed and a replayed erasure deletes
 * again), and as done once ActiveCampaign deleted the contact (or never had it). Older tools skip it: its key
 * does not split as a ledger key and its value does not decode as a ledger record.
 */
export interface ErasureMarker {
  /** occurredAt of the erasure request, epoch ms: events that occurred at or before it are suppressed. */
  occurredAt: number;
  /** When the service wrote it (the intent's time, or when the erasure was done), epoch ms. */
  at: number;
  /** The contact was deleted (or absent); false while the write-ahead intent stands. */
  done: boolean;
}

const SEP = '\u0000';
const TAG = `${SEP}erased${SEP}`;

/**
 * The keyed hash of a normalised email, base64url. Without a configured key (ledger.hashKey) a fixed built-in key
 * is used: the marker then still holds no email, but anyone with this code can test a guessed email against it.
 */
const BUILT_IN_KEY = 'ac-list-sync built-in erasure marker key; set ledger.hashKey';

export class PersonHasher {
  private readonly key: Buffer;
  /** Whether a key was configured (ledger.hashKey): ledger keys are then hashed too (src/ledger/hashing.ts). */
  readonly keyed: boolean;

  constructor(key?: string) {
    this.keyed = key !== undefined;
    this.key = Buffer.from(key ?? BUILT_IN_KEY, 'utf8');
  }

  digest(email: string): string {
    return createHmac('sha256', this.key).update(email, 'utf8').digest('base64url');
  }

  /**
   * The digests a marker of this email may have been written under: the configured key's, and the built-in
   * key's of markers written before a key was configured (they hold no email, so they cannot be re-keyed).
   */
  markerDigests(email: string): string[] {
    return this.keyed ? [this.digest(email), new PersonHasher().digest(email)] : [this.digest(email)];
  }
}

/** `<connection>\u0000\u0000erased\u0000<digest>`: four parts, so splitLedgerKey() never takes it for a list's key. */
export function markerKey(connection: string, digest: string): string {
  return `${connection}${SEP}${TAG}${digest}`;
}

export function isMarkerKey(key: string): boolean {
  return key.includes(`${SEP}${TAG}`);
}

export function encodeMarker(m: ErasureMarker): string {
  return JSON.stringify({ v: 1, erased: true, occurredAt: m.occurredAt, at: m.at, done: m.done });
}

export function decodeMarker(raw: Buffer | string | null): ErasureMarker | undefined {
  const o = storedObject(raw);
  if (!o) return undefined;
  if (
    o.v !== 1 ||
    o.erased !== true ||
    typeof o.occurredAt !== 'number' ||
    typeof o.at !== 'number' ||
    typeof o.done !== 'boolean'
  )
    return undefined;
  return { occurredAt: o.occurredAt, at: o.at, done: o.done };
}

/** Of two markers for one person, the one that stands: the later erasure; at the same occurredAt, a done one. */
export function newerMarker(a: ErasureMarker | undefined, b: ErasureMarker | undefined): ErasureMarker | undefined {
  if (!a || !b) return a ?? b;
  if (a.occurredAt !== b.occurredAt) return a.occurredAt > b.occurredAt ? a : b;
  return b.done && !a.done ? b : a;
}

/**
 * An event for an erased person that occurred at or before the erasure is suppressed (skipped and counted): it
 * must not re-create the contact, whether it arrives late, in a replay, or through `dlq replay`. A tie goes to
 * the erasure. An event that occurred after it is a new consent and goes through.
 */
export function suppresses(marker: ErasureMarker | undefined, occurredAt: number): boolean {
  return marker !== undefined && occurredAt <= marker.occurredAt;
}

/**
 * A ledger entry of a change that occurred at or before the erasure is ignored, as if its tombstone had been
 * read: staleness, re-entry and whether ActiveCampaign has the contact are decided as for a new person.
 */
export function shadows(marker: ErasureMarker | undefined, entry: LedgerEntry | undefined): boolean {
  return marker !== undefined && entry !== undefined && entry.occurredAt <= marker.occurredAt;
}

/**
 * What an erasure request does over the marker that stands: `stale` when an erasure as new or newer is done
 * already (a replay of it changes nothing); otherwise `erase` (first time, or over an intent: the delete may not
 * have happened, and redoing it is harmless).
 */
export function routeErasure(marker: ErasureMarker | undefined, occurredAt: number): 'erase' | 'stale' {
  return marker?.done && occurredAt <= marker.occurredAt ? 'stale' : 'erase';
}

/** The marker to write for an erasure at `occurredAt` over `prev`; undefined when a newer one stands already. */
export function markerFor(
  prev: ErasureMarker | undefined,
  occurredAt: number,
  at: number,
  done: boolean,
): ErasureMarker | undefined {
  if (prev && (prev.occurredAt > occurredAt || (prev.occurredAt === occurredAt && prev.done && !done)))
    return undefined;
  return { occurredAt, at, done };
}
