import { crashPoint } from '../crash-points.js';
import type { AppliedChange, DeliveryOutcomes, Erasure } from '../deliver/outcomes.js';
import type { Stage } from '../domain/errors.js';
import type { DeadLetterSink } from '../ingest/ingest.js';
import { tieOffset, type EventRef } from '../ingest/source.js';
import type { Outcome } from '../ledger/decide.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Ownership } from './ownership.js';
import type { Settler } from './settler.js';

/**
 * The one sink of delivery's outcomes. For each it starts the durable writes the outcome needs (a ledger record,
 * dead letters) and hands the settler their promises: a share ends only once its writes are acknowledged.
 *
 *   confirmed   → ledger record → the change's events end as delivered (the newest one; older ones superseded)
 *   refused     → dead letters → ledger record → they end as dead_lettered
 *   failed      → dead letters → the record that replaces its intent → dead_lettered
 *   dead        → dead letter → dead_lettered
 *   skipped     → stale, at once
 */
export class OutcomeSink implements DeliveryOutcomes<EventRef> {
  constructor(
    private readonly settler: Settler,
    private readonly ownership: Ownership,
    private readonly deadLetter: DeadLetterSink,
    private readonly metrics: Metrics,
    private readonly ledger?: Ledger,
    private readonly onAccepted?: (refs: readonly EventRef[], at: number) => void,
  ) {}

  applied(connection: string, changes: AppliedChange<EventRef>[]): void {
    for (const c of changes) {
      const winner = c.winner;
      if (!winner) continue;
      const letters = c.refused ? this.letters(c.refs, 'confirm', c.refused.code, c.refused.message) : undefined;
      let durable: Promise<unknown> | undefined = letters;
      const { topic, partition } = winner.message;
      // Recorded by the owner of the winning event's partition only: a partition lost since is written by its new
      // owner. A refusal or failure is recorded only with its own letter: when its event was fetched before the
      // last rebalance, no letter is written for it (it is fetched again), and a record would make that copy stale,
      // so that it would never be dead-lettered.
      const lettered = !(c.refused || c.failed) || this.ownership.isCurrent(winner.generation);
      if (this.ledger && this.ownership.owns(topic, partition) && lettered) {
        crashPoint('confirmed-before-ledger');
        const offset = tieOffset(winner.message);
        const outcome: Outcome = { op: c.op, occurredAt: c.occurredAt, sentAt: c.sentAt, confirmedAt: c.confirmedAt };
        if (offset !== undefined) outcome.offset = offset;
        if (c.refused) outcome.refused = c.refused.code;
        if (c.failed) outcome.failed = true;
        if (c.absent) outcome.unapplied = true;
        durable = letters
          ? letters.then(() => this.ledger!.apply(topic, partition, connection, c.listId, c.email, outcome))
          : this.ledger.apply(topic, partition, connection, c.listId, c.email, outcome);
      }
      this.settler.endAll(c.refs, c.refused ? 'dead_lettered' : c.absent ? 'leave_ignored' : 'delivered', durable);
    }
  }

  dead(refs: EventRef[], stage: Stage, code: string, message: string): void {
    for (const ref of refs) this.settler.end(ref, 'dead_lettered', this.letters([ref], stage, code, message));
  }

  skipped(refs: EventRef[], result: 'stale' | 'leave_ignored'): void {
    this.settler.endAll(refs, result);
  }

  /** Done erasures: tombstones and the done marker, acknowledged, then the share settles. */
  erased(connection: string, e: Erasure<EventRef>): void {
    const { topic, partition } = e.ref.message;
    const durable = this.ledger?.erased(topic, partition, connection, e.email, e.occurredAt, e.at);
    this.settler.end(e.ref, 'erased', durable);
  }

  accepted(refs: EventRef[], at: number, settle: boolean): void {
    const fromAppend = this.metrics.endToEnd.labels({ from: 'append' });
    const fromEvent = this.metrics.endToEnd.labels({ from: 'event' });
    for (const ref of refs) {
      fromAppend.observe(Math.max(0, at - ref.message.timestamp) / 1000);
      fromEvent.observe(Math.max(0, at - ref.occurredAt) / 1000);
    }
    this.onAccepted?.(refs, at);
    if (settle) this.settler.endAll(refs, 'delivered');
  }

  /**
   * One letter per event, all acknowledged; only current-generation events are written (the others are fetched again).
   */
  private letters(refs: readonly EventRef[], stage: Stage, code: string, reason: string): Promise<void> {
    const writes = refs
      .filter((r) => this.ownership.isCurrent(r.generation))
      .map((r) => this.deadLetter({ message: r.message, exportName: r.exportName, stage, code, reason, attempts: 1 }));
    return Promise.all(writes).then(() => crashPoint('dead-letter-acked-before-commit'));
  }
}
