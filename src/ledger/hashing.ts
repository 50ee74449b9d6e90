import type { PersonHasher } from './erasure.js';

/**
 * Hashed ledger keys, pure. With `ledger.hashKey` set, a ledger key holds `h:<keyed hash of the email>` where it
 * held the normalised email: `<connection>\u0000<listId>\u0000h:<digest>`. Values never held an email. The email a
 * decision needs comes from the event (or, for `trace`, from the person asking), so nothing needs it back.
 *
 * A ledger written under one key and read under another (or none) would look empty: every person new, every
 * re-entry refused as an opt-out. So each partition carries a check record (the hash of a fixed text) and a
 * restore that finds the wrong check, or raw keys where hashed ones are expected, refuses the partition loudly.
 */
export const HASHED_PREFIX = 'h:';

/** The key of the check record (two parts: no ledger key, no marker). */
export const HASH_CHECK_KEY = '\u0000hash-check';

const CHECK_TEXT = '\u0000ac-list-sync ledger hash check';

/** The person part of a ledger key. */
export function personPart(hasher: PersonHasher, email: string): string {
  return hasher.keyed ? `${HASHED_PREFIX}${hasher.digest(email)}` : email;
}

export function encodeHashCheck(hasher: PersonHasher): string {
  return JSON.stringify({ v: 1, hashCheck: hasher.digest(CHECK_TEXT) });
}

export function decodeHashCheck(raw: Buffer | string | null): string | undefined {
  if (raw === null || raw.length === 0) return undefined;
  try {
    const v = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as { v?: unknown; hashCheck?: unknown };
    return v.v === 1 && typeof v.hashCheck === 'string' ? v.hashCheck : undefined;
  } catch {
    return undefined;
  }
}

/** What a restore saw of one partition's key format. */
export interface KeyFormat {
  /** The check record's hash, if the partition has one. */
  check?: string;
  /** List keys whose person part is a raw email, and those holding a hash. */
  rawKeys: number;
  hashedKeys: number;
}

export function countKey(f: KeyFormat, person: string): void {
  if (person.startsWith(HASHED_PREFIX)) f.hashedKeys++;
  else f.rawKeys++;
}

const HASHED_BYTES = Buffer.from(HASHED_PREFIX, 'latin1');

/** countKey() of the person part that starts at `at` of a key's bytes. */
export function countKeyBytes(f: KeyFormat, key: Uint8Array, at: number): void {
  if (key.length - at >= 2 && key[at] === HASHED_BYTES[0] && key[at + 1] === HASHED_BYTES[1]) f.hashedKeys++;
  else f.rawKeys++;
}

/** Why a partition read this way cannot be used, with the fix; undefined when it can. */
export function formatProblem(f: KeyFormat, hasher: PersonHasher): string | undefined {
  if (hasher.keyed) {
    if (f.check !== undefined && f.check !== decodeHashCheck(encodeHashCheck(hasher))) {
      return (
        'it was written under another ledger.hashKey: set the key it was ' +
        'written with (a changed key would make every person look new)'
      );
    }
    if (f.rawKeys > 0)
      return (
        `it holds ${f.rawKeys} key(s) with raw emails: ` +
        'migrate it first (ac-list-sync ledger-migrate, README "Personal data")'
      );
    return undefined;
  }
  if (f.check !== undefined || f.hashedKeys > 0)
    return 'its keys are hashed (it was written with ledger.hashKey set): set ledger.hashKey again';
  return undefined;
}
