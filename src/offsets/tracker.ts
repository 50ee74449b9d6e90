/**
 * Settled-offset tracking for one topic-partition. An offset is begun with the number of parts that must settle
 * (one per export it maps to); commit() gives the offset to commit: one past the highest offset below which
 * every begun offset has settled. kafkajs resolves nothing for us (autoCommit is off), so this is the only
 * source of committed offsets.
 */
export class PartitionTracker {
  private readonly remaining = new Map<number, number>();
  private order: number[] = [];
  private head = 0;
  private committed: number | undefined;
  /** Offsets up to here are known to hold no record we must wait for (e.g. transaction markers). */
  private seenThrough = -1;

  /** The highest offset begun or skipped so far; -1 before the first. */
  get seen(): number {
    return this.seenThrough;
  }

  /** Records that `offset` must settle `parts` times. Returns false for an offset already seen (a re-fetch). */
  begin(offset: number, parts = 1): boolean {
    if (offset <= this.seenThrough) return false;
    this.seenThrough = offset;
    if (parts <= 0) {
      this.order.push(offset);
      this.remaining.set(offset, 0);
    } else {
      this.order.push(offset);
      this.remaining.set(offset, parts);
    }
    return true;
  }

  /** Marks offsets up to `offset` as seen even if no record was delivered for them (batch.lastOffset()). */
  skipThrough(offset: number): void {
    if (offset > this.seenThrough) {
      this.seenThrough = offset;
      this.order.push(offset);
      this.remaining.set(offset, 0);
    }
  }

  settle(offset: number): void {
    const left = this.remaining.get(offset);
    if (left === undefined || left === 0) return;
    this.remaining.set(offset, left - 1);
  }

  get pending(): number {
    return this.order.length - this.head;
  }

  /** The next offset to commit (last contiguous settled + 1), or undefined if nothing new settled. */
  commit(): number | undefined {
    let advanced: number | undefined;
    while (this.head < this.order.length) {
      const offset = this.order[this.head]!;
      if (this.remaining.get(offset) !== 0) break;
      this.remaining.delete(offset);
      advanced = offset;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    if (advanced === undefined) return undefined;
    const next = advanced + 1;
    if (this.committed !== undefined && next <= this.committed) return undefined;
    this.committed = next;
    return next;
  }
}
