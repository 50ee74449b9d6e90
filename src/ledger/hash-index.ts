/**
 * The in-memory ledger index of one source partition: ledger key → (state, occurredAt, sentAt). Pure, no I/O.
 *
 * Compact by design: the key is never stored, only a 64-bit hash of it (61 bits after the packing below), in an
 * open-addressing table on typed arrays (linear probing). One slot is 40 bytes: hash high word (4), hash low word
 * with the 2-bit state in its top bits (4), occurredAt as float64 ms (8), the source offset as float64 (8), sentAt
 * and confirmedAt in whole seconds (4 + 4), and the earlier window's ends in whole seconds (4 + 4). The table
 * grows by 1.3× when it passes a load of 0.875, so it is always between 67% and 87.5% full: 46–60 bytes per
 * entry (test/ledger/hash-index.test.ts measures it). Two keys share a hash with probability about n²/2⁶², about
 * 4·10⁻⁷ for a million entries: the price of not storing keys.
 */
export enum LedgerState {
  /** The service subscribed the contact to the list (ActiveCampaign confirmed it). */
  Added = 0,
  /** An add ActiveCampaign refused (the contact opted out, bounced or is excluded): never forced. */
  AddRefused = 1,
  /** The service unsubscribed the contact, because the contact left the segment (or intends to: see confirmedAt). */
  RemovedByService = 2,
  /** Unsubscribed, and not by the service: its unsubscribe repeated one the contact had (a refused add before it). */
  RemovedOther = 3,
}

export interface LedgerEntry {
  state: LedgerState;
  /** occurredAt of the change the entry stands for, epoch ms (for an intent: of the change applied before it). */
  occurredAt: number;
  /**
   * When the change was sent to ActiveCampaign, epoch ms, whole seconds. For RemovedByService: when the service's
   * unsubscribe (the first of a run of them) was intended, the start of the window in which an unsubscribe is ours.
   */
  sentAt: number;
  /**
   * RemovedByService: when ActiveCampaign confirmed the unsubscribe (or its import failed), whole seconds rounded
   * up: the end of that window. Absent while the intent is open (sent, not yet confirmed).
   */
  confirmedAt?: number;
  /** The source offset of the change's event (a tie in occurredAt goes to the later one); absent if unknown. */
  offset?: number;
  /** The event was an add, refused because re-entry is off: the membership stays unsubscribed (state says so). */
  refusedAdd?: boolean;
  /**
   * RemovedByService: nothing of this unsubscribe reached ActiveCampaign (the contact was not there, or its import
   * was refused outright). Its window holds no date of ActiveCampaign's, so it never becomes the earlier window of
   * a later unsubscribe, and it does not say that ActiveCampaign has the contact.
   */
  unapplied?: boolean;
  /** RemovedByService: the window of the first of a run of the service's applied unsubscribes, whole seconds. */
  priorFrom?: number;
  priorTo?: number;
}

const SLOT_BYTES = 4 + 4 + 8 + 8 + 4 + 4 + 4 + 4;
const MAX_LOAD = 0.875;
const GROWTH = 1.3;
const MIN_CAPACITY = 64;
const HASH_MASK = 0x3fffffff;

/** A 64-bit hash of a string (two 32-bit words, cyrb53's mixing carried to 64 bits). The high word is never 0. */
export function hashKey(key: string): { hi: number; lo: number } {
  hashInto(key);
  return { hi: hashHi, lo: hashLo };
}

/** hashKey's words, left here by hashInto(): no object per lookup on the hot paths of this module. */
let hashHi = 0;
let hashLo = 0;
/**
 * hashInto() of the key's UTF-8 bytes, without making the string: for an ASCII key each byte is its char code,
 * so the hash is the same. Answers false (nothing hashed) for a key with any other byte.
 */
function hashBytesInto(key: Uint8Array): boolean {
  let h1 = 0xdeadbeef ^ key.length;
  let h2 = 0x41c6ce57 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    if (c >= 0x80) return false;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  finishHash(h1, h2);
  return true;
}

/** cyrb53's final mixing, into hashHi / hashLo (the high word never 0: 0 marks an empty slot). */
function finishHash(a: number, b: number): void {
  const h1 = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  const h2 = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  hashHi = h1 >>> 0 || 1;
  hashLo = h2 >>> 0;
}

function hashInto(key: string): void {
  let h1 = 0xdeadbeef ^ key.length;
  let h2 = 0x41c6ce57 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  finishHash(h1, h2);
}

/**
 * The offset slot's value: (offset + 1) × 4 (0 × 4 when no offset is known), plus the refused-add and unapplied bits.
 */
function packOffset(e: LedgerEntry): number {
  return (e.offset === undefined ? 0 : (e.offset + 1) * 4) + (e.refusedAdd ? 1 : 0) + (e.unapplied ? 2 : 0);
}

/** The earlier window in whole seconds (the start rounded down, the end up); zeros when there is none. */
const hasPrior = (e: LedgerEntry) => e.priorFrom !== undefined && e.priorTo !== undefined;
const priorFromOf = (e: LedgerEntry) => (hasPrior(e) ? Math.floor(e.priorFrom! / 1000) : 0);
const priorToOf = (e: LedgerEntry) => (hasPrior(e) ? Math.ceil(e.priorTo! / 1000) : 0);

export class LedgerIndex {
  private capacity!: number;
  private hi!: Uint32Array;
  private lo!: Uint32Array;
  private at!: Float64Array;
  private sent!: Uint32Array;
  private until!: Uint32Array;
  /**
   * (Source offset + 1) × 4 (0 when no offset is known), plus 1 for a refused add and 2 for an unapplied unsubscribe.
   */
  private off!: Float64Array;
  /** The earlier window (priorFrom floor, priorTo ceil), whole seconds; 0: none. */
  private prFrom!: Uint32Array;
  private prTo!: Uint32Array;
  private count = 0;

  constructor(expected = 0) {
    this.allocate(Math.max(MIN_CAPACITY, Math.ceil(expected / MAX_LOAD) + 1));
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.capacity * SLOT_BYTES;
  }

  get(key: string): LedgerEntry | undefined {
    hashInto(key);
    return this.getHashed(hashHi, hashLo);
  }

  /** As get(), with the key hashed once by the caller (a lookup across several partitions' indexes). */
  getHashed(hi: number, lo: number): LedgerEntry | undefined {
    const slot = this.find(hi, lo & HASH_MASK);
    if (this.hi[slot] === 0) return undefined;
    const entry: LedgerEntry = {
      state: (this.lo[slot]! >>> 30) as LedgerState,
      occurredAt: this.at[slot]!,
      sentAt: this.sent[slot]! * 1000,
    };
    const until = this.until[slot]!;
    if (until) entry.confirmedAt = until * 1000;
    const off = this.off[slot]!;
    if (off >= 4) entry.offset = Math.floor(off / 4) - 1;
    if (off % 2) entry.refusedAdd = true;
    if (off % 4 >= 2) entry.unapplied = true;
    const pt = this.prTo[slot]!;
    if (pt) {
      entry.priorFrom = this.prFrom[slot]! * 1000;
      entry.priorTo = pt * 1000;
    }
    return entry;
  }

  set(key: string, entry: LedgerEntry): void {
    if (this.count + 1 > this.capacity * MAX_LOAD) this.grow();
    hashInto(key);
    const slot = this.find(hashHi, hashLo & HASH_MASK);
    if (this.hi[slot] === 0) this.count++;
    this.putEntry(slot, hashHi, hashLo & HASH_MASK, entry);
  }

  private putEntry(slot: number, hi: number, lo: number, entry: LedgerEntry): void {
    this.put(
      slot,
      hi,
      lo,
      entry.state,
      entry.occurredAt,
      Math.floor(entry.sentAt / 1000),
      entry.confirmedAt ? Math.ceil(entry.confirmedAt / 1000) : 0,
      packOffset(entry),
      priorFromOf(entry),
      priorToOf(entry),
    );
  }

  /**
   * Sets the entry unless the key holds a newer one (a greater occurredAt): newest wins, an equal time replaces.
   * One hash and one probe, for restores (which pass the key's UTF-8 bytes as read). Answers whether it was set.
   */
  setUnlessNewer(key: string | Uint8Array, entry: LedgerEntry): boolean {
    if (this.count + 1 > this.capacity * MAX_LOAD) this.grow();
    if (typeof key === 'string') hashInto(key);
    else if (!hashBytesInto(key)) hashInto(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8'));
    const slot = this.find(hashHi, hashLo & HASH_MASK);
    if (this.hi[slot] === 0) this.count++;
    else if (this.at[slot]! > entry.occurredAt) return false;
    this.putEntry(slot, hashHi, hashLo & HASH_MASK, entry);
    return true;
  }

  /** The slot holding this hash, or the empty slot where it would go. */
  private find(hi: number, lo: number): number {
    let slot = hi % this.capacity;
    for (;;) {
      const h = this.hi[slot]!;
      if (h === 0 || (h === hi && (this.lo[slot]! & HASH_MASK) === lo)) return slot;
      slot = slot + 1 === this.capacity ? 0 : slot + 1;
    }
  }

  private put(
    slot: number,
    hi: number,
    lo: number,
    state: LedgerState,
    occurredAt: number,
    sentSeconds: number,
    untilSeconds: number,
    offPlusOne: number,
    priorFrom: number,
    priorTo: number,
  ): void {
    this.hi[slot] = hi;
    this.lo[slot] = (lo | (state << 30)) >>> 0;
    this.at[slot] = occurredAt;
    this.sent[slot] = sentSeconds;
    this.until[slot] = untilSeconds;
    this.off[slot] = offPlusOne;
    this.prFrom[slot] = priorFrom;
    this.prTo[slot] = priorTo;
  }

  /**
   * Room for `n` entries without growing (a restore knows its offset range up front: growing by 1.3× as it goes
   * re-inserted every entry about four times over). fit() gives back what a reservation did not use.
   */
  reserve(n: number): void {
    const wanted = Math.ceil(n / MAX_LOAD) + 1;
    if (wanted > this.capacity) this.resize(wanted);
  }

  /** Shrinks a table under half its load bound (after a reservation) to the size growing would have given it. */
  fit(): void {
    const target = Math.max(MIN_CAPACITY, Math.ceil((this.count * GROWTH) / MAX_LOAD) + 1);
    if (this.count < (this.capacity * MAX_LOAD) / 2 && target < this.capacity) this.resize(target);
  }

  private grow(): void {
    this.resize(Math.ceil(this.capacity * GROWTH));
  }

  /** Empty columns of `capacity` slots (the entries, if any, are put back by the caller). */
  private allocate(capacity: number): void {
    this.capacity = capacity;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.at = new Float64Array(capacity);
    this.sent = new Uint32Array(capacity);
    this.until = new Uint32Array(capacity);
    this.off = new Float64Array(capacity);
    this.prFrom = new Uint32Array(capacity);
    this.prTo = new Uint32Array(capacity);
  }

  private resize(size: number): void {
    const { hi, lo, at, sent, until, off, prFrom, prTo, capacity } = this;
    this.allocate(size);
    for (let i = 0; i < capacity; i++) {
      const h = hi[i]!;
      if (h === 0) continue;
      const l = lo[i]!;
      this.put(
        this.find(h, l & HASH_MASK),
        h,
        l & HASH_MASK,
        (l >>> 30) as LedgerState,
        at[i]!,
        sent[i]!,
        until[i]!,
        off[i]!,
        prFrom[i]!,
        prTo[i]!,
      );
    }
  }
}
