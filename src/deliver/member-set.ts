import { hashKey } from '../ledger/hash-index.js';

/**
 * A set of emails held as their 64-bit hashes only (the ledger index's hashKey), never the emails themselves: a
 * list's members, read once (member-reads.ts). Open addressing in two Uint32Arrays, at most half full, so a slot
 * costs 8 bytes and a member 16 to 32 (16.8 MB for 1M members). Two different emails share a hash with a chance
 * of about n / 2^64 per question (5 × 10^-14 for 1M members): a false "member" sends that remove by import.
 */
export class EmailHashes {
  private hi = new Uint32Array(64);
  private lo = new Uint32Array(64);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Bytes the two arrays take. */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength;
  }

  /** `email` normalised already (domain/email.ts). */
  add(email: string): void {
    const { hi, lo } = hashKey(email);
    if (this.slotOf(hi, lo) >= 0) return;
    if ((this.count + 1) * 2 > this.hi.length) this.grow();
    this.place(hi, lo);
    this.count++;
  }

  has(email: string): boolean {
    const { hi, lo } = hashKey(email);
    return this.slotOf(hi, lo) >= 0;
  }

  /** The slot holding (hi, lo), or -1. hashKey's high word is never 0: 0 marks an empty slot. */
  private slotOf(hi: number, lo: number): number {
    const mask = this.hi.length - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      if (this.hi[i] === 0) return -1;
      if (this.hi[i] === hi && this.lo[i] === lo) return i;
    }
  }

  private place(hi: number, lo: number): void {
    const mask = this.hi.length - 1;
    let i = lo & mask;
    while (this.hi[i] !== 0) i = (i + 1) & mask;
    this.hi[i] = hi;
    this.lo[i] = lo;
  }

  private grow(): void {
    const { hi, lo } = this;
    this.hi = new Uint32Array(hi.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    for (let i = 0; i < hi.length; i++) if (hi[i] !== 0) this.place(hi[i]!, lo[i]!);
  }
}
