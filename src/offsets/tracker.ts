/**
 * Settled-offset tracking for one topic-partition. An offset is begun with the number of shares that must end
 * (one per export it maps to); commit() gives the offset to commit: one past the highest offset below which
 * every begun offset has ended all its shares. kafkajs resolves nothing for us (autoCommit is off), so this is the
 * only source of committed offsets.
 *
 * Each share is a bit of the offset's mask, so ending the same share twice (an import accepted again after a
 * resubmission, a dead letter after a settle at acceptance) can never stand in for another export's share.
 */
export const MAX_SHARES = 30;

export class PartitionTracker {
  /**
   * The offsets begun or skipped, ascending (each is higher than the one before), from `head` on those commit()
   * has not passed. Beside each, at the same index: the bit mask of its shares still open (0: every share ended),
   * and the bytes of its record it keeps (an exact-size copy, see ingest/source.ts retain()). Three arrays of small
   * integers, a few bytes per offset, where a Map cost about 20.
   */
  private order: number[] = [];
  private masks: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  /** Bytes kept by offsets not yet passed by commit(): counted in buffer.maxBufferedBytes. */
  retained = 0;
  /** The offset handed out by commit() last; `acked` is the last one the broker took. */
  private committed: number | undefined;
  private acked: number | undefined;
  /** One past the highest offset below which everything has ended. */
  private settledNext: number | undefined;
  /** Offsets up to here are known to hold no record we must wait for (e.g. transaction markers). */
  private seenThrough = -1;

  /** The highest offset begun or skipped so far; -1 before the first. */
  get seen(): number {
    return this.seenThrough;
  }

  /**
   * Records that `offset` must end `shares` shares (at most MAX_SHARES).
   * Returns false for an offset already seen (a re-fetch).
   */
  begin(offset: number, shares = 1): boolean {
    if (offset <= this.seenThrough) return false;
    if (shares > MAX_SHARES) throw new RangeError(`an event may map to at most ${MAX_SHARES} exports, not ${shares}`);
    this.seenThrough = offset;
    this.order.push(offset);
    this.masks.push(shares <= 0 ? 0 : 2 ** shares - 1);
    this.sizes.push(0);
    return true;
  }

  /** The offset begun last keeps `bytes` of its record until commit() passes it. */
  retain(bytes: number): void {
    if (this.order.length === this.head) return;
    this.sizes[this.sizes.length - 1]! += bytes;
    this.retained += bytes;
  }

  /** Marks offsets up to `offset` as seen even if no record was delivered for them (batch.lastOffset()). */
  skipThrough(offset: number): void {
    if (offset > this.seenThrough) {
      this.seenThrough = offset;
      this.order.push(offset);
      this.masks.push(0);
      this.sizes.push(0);
    }
  }

  /** The index of `offset` in `order` from `head` on, or -1 (never begun, or passed by commit()). */
  private indexOf(offset: number): number {
    let lo = this.head;
    let hi = this.order.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.order[mid]!;
      if (at === offset) return mid;
      if (at < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Ends share `share` of `offset` (without a share: the lowest one still open). Returns whether it was open:
   * a share ends once, whatever reports it again.
   */
  settle(offset: number, share?: number): boolean {
    const i = this.indexOf(offset);
    if (i < 0) return false;
    const mask = this.masks[i]!;
    if (mask === 0) return false;
    const bit = share === undefined ? mask & -mask : 2 ** share;
    if ((mask & bit) === 0) return false;
    this.masks[i] = mask & ~bit;
    return true;
  }

  /** Offsets begun whose shares have not all ended. */
  get pending(): number {
    return this.order.length - this.head;
  }

  /** The lowest offset still waiting for a share, if any. */
  get firstOpen(): number | undefined {
    for (let i = this.head; i < this.order.length; i++) if (this.masks[i] !== 0) return this.order[i];
    return undefined;
  }

  /** Offsets still waiting for a share. O(pending): for a stop's report. */
  openOffsets(): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.order.length; i++) if (this.masks[i] !== 0) out.push(this.order[i]!);
    return out;
  }

  /** The next offset to commit (last contiguous settled + 1), or undefined if nothing new settled. */
  commit(): number | undefined {
    while (this.head < this.order.length && this.masks[this.head] === 0) {
      this.settledNext = this.order[this.head]! + 1;
      this.retained -= this.sizes[this.head]!;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.masks = this.masks.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    const next = this.settledNext;
    if (next === undefined || (this.committed !== undefined && next <= this.committed)) return undefined;
    this.committed = next;
    return next;
  }

  /** The broker took `offset`: it is not handed out again. */
  commitSucceeded(offset: number): void {
    if (this.acked === undefined || offset > this.acked) this.acked = offset;
  }

  /** The commit of `offset` failed: the next commit() hands out the highest settled offset again. */
  commitFailed(offset: number): void {
    if (this.committed === offset) this.committed = this.acked;
  }
}
