import { isMarkerKey, type PersonHasher } from './erasure.js';
import { HASHED_PREFIX, HASH_CHECK_KEY, personPart } from './hashing.js';
import { decodeLedgerValue, ledgerKey, splitLedgerKey } from './record.js';

/**
 * The migration of a ledger with raw-email keys into a new topic with hashed keys, pure: what one partition's
 * records become. Newest record per key wins (the old topic may not be compacted yet: an older record and its
 * tombstone may both be there), tombstones and check records are not carried over, markers are copied as they
 * are (they hold no email), and each list key's email becomes its keyed hash. Values are copied unchanged: they
 * never held an email. The new topic gets a fresh check record (src/ledger/hashing.ts) from the caller.
 */
export interface MigratedPartition {
  /** key → value, to write in this order. */
  records: Map<string, Buffer>;
  /** Records read that are not carried over, by why. */
  dropped: { tombstone: number; superseded: number; unreadable: number; check: number };
}

export class PartitionMigration {
  private readonly latest = new Map<string, Buffer | null>();
  private readonly counts = { superseded: 0, unreadable: 0, check: 0 };

  constructor(private readonly hasher: PersonHasher) {}

  /** One record of the old partition, in offset order. */
  add(key: string, value: Buffer | null): void {
    if (key === HASH_CHECK_KEY) {
      this.counts.check++;
      return;
    }
    const next = this.rekey(key);
    if (next === undefined) {
      this.counts.unreadable++;
      return;
    }
    if (this.latest.has(next)) this.counts.superseded++;
    this.latest.set(next, value);
  }

  finish(): MigratedPartition {
    const records = new Map<string, Buffer>();
    let tombstone = 0;
    for (const [k, v] of this.latest) {
      if (v === null || v.length === 0) tombstone++;
      else if (isMarkerKey(k) || decodeLedgerValue(v)) records.set(k, v);
      else this.counts.unreadable++;
    }
    return { records, dropped: { tombstone, ...this.counts } };
  }

  /** The key in the new topic; undefined for a key that is neither a ledger key nor a marker. */
  private rekey(key: string): string | undefined {
    if (isMarkerKey(key)) return key;
    const parts = splitLedgerKey(key);
    if (!parts) return undefined;
    if (parts.email.startsWith(HASHED_PREFIX)) return key; // hashed already (a migration run again)
    return ledgerKey(parts.connection, parts.listId, personPart(this.hasher, parts.email));
  }
}
