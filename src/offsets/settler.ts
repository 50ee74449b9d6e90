import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { Ownership } from './ownership.js';
import { PartitionTracker } from './tracker.js';

/** One event's share of work for one export (or the whole event, when it maps to none). */
export interface Share {
  readonly message: { readonly topic: string; readonly partition: number; readonly offset: number };
  /** The group generation that fetched it: a share of an earlier generation never moves an offset. */
  readonly generation: number;
  /** Which of the event's shares this is (0-based). */
  readonly share: number;
}

/** How a share ended: the metric's result label. */
export type SettleResult =
  | 'delivered'
  | 'dead_lettered'
  | 'invalid'
  | 'unmapped'
  | 'stale'
  | 'leave_ignored'
  | 'erased'
  | 'suppressed';

export interface Totals {
  consumed: number;
  delivered: number;
  deadLettered: number;
  skipped: number;
}

const TOTAL: Record<SettleResult, keyof Totals> = {
  delivered: 'delivered',
  dead_lettered: 'deadLettered',
  invalid: 'deadLettered',
  unmapped: 'skipped',
  stale: 'skipped',
  leave_ignored: 'skipped',
  erased: 'delivered',
  suppressed: 'skipped',
};

export interface Unsettled {
  topic: string;
  partition: number;
  /** The lowest offset still waiting: the partition's commit stops there. */
  offset: number;
  /** Offsets still waiting in that partition. */
  open: number;
}

/**
 * The one module that knows whether an event is settled. An event begins with one share per export it maps to;
 * each share ends exactly once: confirmed (or superseded by a confirmed change), dead-lettered, or skipped. A
 * share whose outcome needs a durable write (a ledger record, a dead letter) ends when that write's promise
 * resolves, and never if it rejects: the offset then stays uncommitted and the event is fetched again. An offset
 * commits when every event at or below it has ended all its shares.
 */
export class Settler {
  /** By topic, then partition: no key string made per event. */
  private trackers = new Map<string, Map<number, PartitionTracker>>();
  readonly totals: Totals = { consumed: 0, delivered: 0, deadLettered: 0, skipped: 0 };
  /** Durable writes awaited by open shares, for a stop's report. */
  private awaiting = 0;
  /** Ended shares per topic and result not yet added to events_consumed_total. */
  private readonly unreported = new Map<string, Map<SettleResult, number>>();

  constructor(
    private readonly ownership: Ownership,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Sees each share as it ends (a replay counts the delivered ones per list). */
    private readonly onEnded?: (share: Share, result: SettleResult) => void,
  ) {}

  get generation(): number {
    return this.ownership.generation;
  }

  /** After Ownership.assign(): a fresh tracker per owned partition (kafkajs starts each from its committed offset). */
  assign(): void {
    this.trackers = new Map();
    for (const [topic, partition] of this.ownership.partitions()) {
      let byPartition = this.trackers.get(topic);
      if (!byPartition) this.trackers.set(topic, (byPartition = new Map()));
      byPartition.set(partition, new PartitionTracker());
    }
    this.gauge();
  }

  /**
   * Begins an event with `shares` shares. False when it was seen already (a re-fetch) or its partition is not owned.
   */
  begin(topic: string, partition: number, offset: number, shares: number): boolean {
    const tracker = this.tracker(topic, partition);
    if (!tracker?.begin(offset, shares)) return false;
    this.totals.consumed++;
    return true;
  }

  /** The event begun last in this partition keeps `bytes` of its record (a copy) until its offset is committable. */
  retain(topic: string, partition: number, bytes: number): void {
    this.tracker(topic, partition)?.retain(bytes);
  }

  /** Bytes of records kept by unsettled events (and settled ones commit has not passed yet). */
  get retainedBytes(): number {
    let n = 0;
    for (const [, , t] of this.all()) n += t.retained;
    return n;
  }

  /** The highest offset of the partition seen so far (begun or skipped), while it is owned; -1 before any. */
  seen(topic: string, partition: number): number | undefined {
    return this.tracker(topic, partition)?.seen;
  }

  /** Whether the partition is owned now (its events may begin). */
  tracking(topic: string, partition: number): boolean {
    return this.tracker(topic, partition) !== undefined;
  }

  /**
   * Ends a share once `durable` (if any) has resolved. Shares of an earlier generation, and shares ended already,
   * change nothing.
   */
  end(share: Share, result: SettleResult, durable?: Promise<unknown>, total: keyof Totals = TOTAL[result]): void {
    if (!this.ownership.isCurrent(share.generation)) return;
    if (!durable) {
      this.endNow(share, result, total);
      return;
    }
    this.awaiting++;
    durable.then(
      () => {
        this.awaiting--;
        this.endNow(share, result, total);
      },
      (err: unknown) => {
        this.awaiting--;
        // Discarded on a revocation or closed at a stop: expected. Anything else, for an event still ours, is not.
        const code = (err as { code?: string })?.code;
        const expected =
          code === 'WRITE_DISCARDED' || code === 'WRITER_CLOSED' || !this.ownership.isCurrent(share.generation);
        this.log[expected ? 'debug' : 'warn'](
          {
            topic: share.message.topic,
            partition: share.message.partition,
            offset: share.message.offset,
            err: (err as Error)?.message,
          },
          'A durable write did not complete; the event stays unsettled and is fetched again',
        );
      },
    );
  }

  /** Ends many shares with one outcome, once `durable` (if any) has resolved: one reaction for all of them. */
  endAll(shares: readonly Share[], result: SettleResult, durable?: Promise<unknown>): void {
    if (!durable) {
      for (const s of shares) this.end(s, result);
      return;
    }
    const current = shares.filter((s) => this.ownership.isCurrent(s.generation));
    if (current.length === 0) return;
    const total = TOTAL[result];
    this.awaiting += current.length;
    durable.then(
      () => {
        this.awaiting -= current.length;
        for (const s of current) this.endNow(s, result, total);
      },
      (err: unknown) => {
        this.awaiting -= current.length;
        const first = current[0]!.message;
        this.log.debug(
          {
            topic: first.topic,
            partition: first.partition,
            offset: first.offset,
            events: current.length,
            err: (err as Error)?.message,
          },
          'A durable write did not complete; its events stay unsettled and are fetched again',
        );
      },
    );
  }

  private endNow(share: Share, result: SettleResult, total: keyof Totals): void {
    if (!this.ownership.isCurrent(share.generation)) return;
    const { topic, partition, offset } = share.message;
    if (!this.tracker(topic, partition)?.settle(offset, share.share)) return;
    this.totals[total]++;
    this.onEnded?.(share, result);
    // Counted here, added to the metric per batch and per commit (gauge()):
    // a labelled increment per event costs more than the rest of ending it.
    let byResult = this.unreported.get(topic);
    if (!byResult) this.unreported.set(topic, (byResult = new Map()));
    byResult.set(result, (byResult.get(result) ?? 0) + 1);
  }

  /**
   * Offsets first..last hold no record to wait for (a fetch of transaction markers or aborted records only, or a
   * bounded run's end): they count as settled. Ignored unless it continues what the partition has seen.
   */
  skipThrough(topic: string, partition: number, first: number, last: number): void {
    const tracker = this.tracker(topic, partition);
    if (!tracker || (tracker.seen >= 0 && tracker.seen < first - 1)) return;
    tracker.skipThrough(last);
    this.gauge();
  }

  /** Offsets to commit now, for the partitions owned in the current generation only. */
  commits(): { topic: string; partition: number; offset: string }[] {
    const out: { topic: string; partition: number; offset: string }[] = [];
    for (const [topic, partition, tracker] of this.all()) {
      const next = tracker.commit();
      if (next === undefined) continue;
      out.push({ topic, partition, offset: String(next) });
    }
    this.gauge();
    return out;
  }

  /**
   * What a commit of `offsets` (from commits() in `generation`) came to. A failed commit is handed out again by
   * the next commits(), but only while the generation is unchanged: a partition lost since is never committed.
   */
  committed(
    offsets: readonly { topic: string; partition: number; offset: string }[],
    generation: number,
    ok: boolean,
  ): void {
    if (!this.ownership.isCurrent(generation)) return;
    for (const o of offsets) {
      const tracker = this.tracker(o.topic, o.partition);
      if (ok) tracker?.commitSucceeded(Number(o.offset));
      else tracker?.commitFailed(Number(o.offset));
    }
  }

  private tracker(topic: string, partition: number): PartitionTracker | undefined {
    return this.trackers.get(topic)?.get(partition);
  }

  private *all(): Iterable<[string, number, PartitionTracker]> {
    for (const [topic, byPartition] of this.trackers)
      for (const [partition, tracker] of byPartition) yield [topic, partition, tracker];
  }

  get pending(): number {
    let n = 0;
    for (const [, , t] of this.all()) n += t.pending;
    return n;
  }

  /** Per owned partition, where its commits stop and how much waits there: empty when everything settled. */
  unsettled(): Unsettled[] {
    const out: Unsettled[] = [];
    for (const [topic, partition, tracker] of this.all()) {
      const open = tracker.openOffsets();
      if (open.length === 0) continue;
      out.push({ topic, partition, offset: open[0]!, open: open.length });
    }
    return out;
  }

  /** Durable writes that open shares still wait for. */
  get awaitingWrites(): number {
    return this.awaiting;
  }

  /** The pending gauge and the ended shares' counts: updated per batch and per commit, not per event. */
  gauge(): void {
    for (const [topic, byResult] of this.unreported)
      for (const [result, n] of byResult) this.metrics.eventsConsumed.inc({ topic, result }, n);
    this.unreported.clear();
    this.metrics.pendingEvents.set(this.pending);
  }
}
