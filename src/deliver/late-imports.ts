import { UNSUBSCRIBE_SKEW_MS, type Window } from '../ledger/decide.js';

/**
 * Bulk imports abandoned at their confirmation deadline that ActiveCampaign still completes later. AC cannot
 * cancel a batch, so one that completes after its changes were resubmitted (and perhaps overtaken by newer ones)
 * writes old ops over newer ones. This remembers, per (email, list) of each abandoned batch, the op it carries and
 * the newest change of that pair sent since; when the batch is seen to have completed, every pair whose newest
 * change since has the other op is sent again (a re-assert), once that change is confirmed. Pure: the account
 * tells it what was sent, confirmed and polled, and carries out the re-asserts it hands back.
 *
 * Which of the two AC applied last cannot be known (it may have completed the batch before the newer change), so
 * a re-assert is sent whenever the ops differ: at worst it repeats what AC already holds. Profile fields the late
 * batch carried are not re-sent (stated in the README).
 */
/** What is known of the newest change of a pair: enough to send it again, with no refs (they settled with it). */
export interface SentChange<R> {
  op: 'add' | 'remove';
  occurredAt: number;
  /** Its winning event: which ledger partition records it. */
  winner: R;
}

export interface Reassert<R> {
  email: string;
  listId: string;
  change: SentChange<R>;
  /**
   * For an add over the late batch's remove: the late unsubscribe is the service's own, dated between the
   * batch's acceptance and the moment its completion was seen (a re-subscribe reverses only a date in here).
   */
  window?: Window;
}

interface Watch<R> {
  batchId: string;
  lateOp: 'add' | 'remove';
  /** The abandoned batch's acceptance, epoch ms. */
  sentAt: number;
  /** The newest change of the pair sent since the batch was abandoned, and whether AC has confirmed it. */
  since?: { change: SentChange<R>; confirmed: boolean };
  /** When the batch was seen to have completed, epoch ms (then the pair waits only for `since` to be confirmed). */
  landedAt?: number;
}

const pairKey = (email: string, listId: string) => `${listId}\u0000${email}`;

export class LateImports<R> {
  private readonly watches = new Map<string, Watch<R>>();
  private readonly byBatch = new Map<string, Set<string>>();
  /** Re-asserts whose email is still held by the buffer: sent once it is free. */
  private readonly pending = new Map<string, Reassert<R>[]>();

  /** Pairs watched (for the gauges and tests). */
  get size(): number {
    return this.watches.size;
  }

  get pendingCount(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }

  /** A batch was abandoned at its deadline: its pairs are watched until it ends (completed, failed or expired). */
  abandoned(
    batchId: string,
    sentAt: number,
    pairs: Iterable<{ email: string; listId: string; op: 'add' | 'remove' }>,
  ): void {
    const keys = new Set<string>();
    for (const { email, listId, op } of pairs) {
      const k = pairKey(email, listId);
      const old = this.watches.get(k);
      if (old) this.byBatch.get(old.batchId)?.delete(k);
      this.watches.set(k, { batchId, lateOp: op, sentAt });
      keys.add(k);
    }
    if (keys.size) this.byBatch.set(batchId, keys);
  }

  /** An import (or a re-subscribe) carrying this change of the pair was accepted. */
  sent(email: string, listId: string, change: SentChange<R>): void {
    if (this.watches.size === 0) return; // the common case: no key string per change sent
    const w = this.watches.get(pairKey(email, listId));
    if (w)
      w.since = { change: { op: change.op, occurredAt: change.occurredAt, winner: change.winner }, confirmed: false };
  }

  /**
   * A change of the pair was confirmed (applied). When the late batch has completed already and the ops differ,
   * a re-assert waits to be sent (ready()).
   */
  confirmed(email: string, listId: string, change: SentChange<R>): void {
    if (this.watches.size === 0) return;
    const k = pairKey(email, listId);
    const w = this.watches.get(k);
    if (!w) return;
    w.since = { change: { op: change.op, occurredAt: change.occurredAt, winner: change.winner }, confirmed: true };
    if (w.landedAt !== undefined) this.settle(k, w);
  }

  /** A change of the pair did not go through (refused, failed, dead-lettered): nothing newer stands since. */
  notApplied(email: string, listId: string): void {
    if (this.watches.size === 0) return;
    const k = pairKey(email, listId);
    const w = this.watches.get(k);
    if (!w) return;
    delete w.since;
    if (w.landedAt !== undefined) this.forget(k, w);
  }

  /**
   * The abandoned batch ended at `at` (epoch ms). Completed (or interrupted: partly applied), its ops may now stand
   * over newer ones; failed or expired, it changed nothing and its pairs are forgotten.
   */
  ended(batchId: string, applied: boolean, at: number): void {
    const keys = this.byBatch.get(batchId);
    if (!keys) return;
    this.byBatch.delete(batchId);
    for (const k of keys) {
      const w = this.watches.get(k);
      if (!w) continue;
      if (!applied) {
        this.watches.delete(k);
        continue;
      }
      w.landedAt = at;
      if (!w.since)
        this.watches.delete(k); // nothing sent since: the late op is the newest the events say
      else if (w.since.confirmed) this.settle(k, w);
      // else: the change sent since is in the air; its confirmation settles the pair
    }
  }

  /** Re-asserts whose email the buffer no longer holds, taken out to be sent. */
  ready(held: (email: string) => boolean): Reassert<R>[] {
    const out: Reassert<R>[] = [];
    for (const [email, list] of this.pending) {
      if (held(email)) continue;
      this.pending.delete(email);
      out.push(...list);
    }
    return out;
  }

  private settle(k: string, w: Watch<R>): void {
    const change = w.since!.change;
    this.forget(k, w);
    if (change.op === w.lateOp) return;
    const sep = k.indexOf('\u0000');
    const listId = k.slice(0, sep);
    const email = k.slice(sep + 1);
    const r: Reassert<R> = { email, listId, change };
    if (change.op === 'add') r.window = { from: w.sentAt - UNSUBSCRIBE_SKEW_MS, to: w.landedAt! + UNSUBSCRIBE_SKEW_MS };
    const list = this.pending.get(email) ?? [];
    list.push(r);
    this.pending.set(email, list);
  }

  private forget(k: string, w: Watch<R>): void {
    this.watches.delete(k);
    this.byBatch.get(w.batchId)?.delete(k);
  }
}
