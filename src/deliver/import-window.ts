/**
 * One per-minute import budget as a sliding window, anchored where it is safe. Pure: time comes in as arguments.
 *
 * ActiveCampaign counts an import when it arrives; the service knows only when it sent one and when the answer
 * came back. A request arrives after it was sent and before its answer, so a slot is held from the send until
 * `windowMs` after the answer: the next import that takes the slot is sent more than `windowMs` after the one
 * before it arrived, whatever the network did. That holds under a sliding window on ActiveCampaign's side, and so
 * under fixed windows and a bucket of `limit` tokens too (CONTRACT.md §2: the algorithm is unconfirmed). An import
 * not answered yet holds its slot for ever (a request is answered or times out).
 */
export class ImportWindow {
  /** When each slot frees: `answeredAt + windowMs`, or Infinity while its import is unanswered. */
  private readonly slots: { freeAt: number }[] = [];

  /**
   * When an import may go, given that at most `limit` (≥ 1, whole) may be in any `windowMs`: `now` while fewer
   * hold a slot, else when the oldest one frees (Infinity: when an answer comes back).
   */
  readyAt(now: number, limit: number): number {
    this.prune(now);
    const held = this.slots.length;
    if (held < limit) return now;
    const frees = this.slots.map((s) => s.freeAt).sort((a, b) => a - b);
    return frees[held - limit]!;
  }

  /** Takes a slot at `now`; `answered(at)` starts its window. */
  take(windowMs: () => number): { answered(at: number): void } {
    const slot = { freeAt: Infinity };
    this.slots.push(slot);
    return {
      answered: (at) => {
        if (slot.freeAt === Infinity) slot.freeAt = at + windowMs();
      },
    };
  }

  /** Holds `n` slots until `until` (imports another instance made, which this window cannot see). */
  hold(n: number, until: number): void {
    for (let i = 0; i < n; i++) this.slots.push({ freeAt: until });
  }

  /** Imports holding a slot at `now` (the window's load). */
  held(now: number): number {
    this.prune(now);
    return this.slots.length;
  }

  private prune(now: number): void {
    for (let i = this.slots.length - 1; i >= 0; i--) if (this.slots[i]!.freeAt <= now) this.slots.splice(i, 1);
  }
}
