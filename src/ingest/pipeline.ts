import type { Logger } from 'pino';
import type { Config, ExportConfig } from '../config/schema.js';
import type { ListChange } from '../buffer/contact-entry.js';
import type { AccountDelivery, AppliedChange, Settlement } from '../deliver/account.js';
import type { DeadLetterProducer } from '../dlq/producer.js';
import { RecordError, SyncError, type Stage } from '../domain/errors.js';
import { parseMembershipChange, type MembershipChange } from '../domain/event.js';
import { isStale, recordFor, routeChange, type Route } from '../ledger/decide.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Metrics } from '../observability/metrics.js';
import { PartitionTracker } from '../offsets/tracker.js';
import { decodeJson, isWireFormat, type WireDecoder } from './decode.js';
import type { Router } from './router.js';
import { tpKey, type EventRef, type SourceMessage } from './source.js';

/**
 * Where a batch stopped early: the first offset not taken, and the retriable error that stopped it (a record
 * needs a service that did not answer, e.g. the schema registry). Nothing from that offset on was touched.
 */
export interface Stall {
  offset: number;
  error: SyncError;
  /** Try again when this settles (e.g. the partition's ledger is restored), instead of after a backoff. */
  until?: Promise<void>;
}

export interface Totals {
  consumed: number;
  delivered: number;
  deadLettered: number;
  skipped: number;
}

/**
 * The middle of the service: source records in (per partition batch), decoded, validated and routed into the
 * accounts' buffers; settlements out, into the offset trackers. No Kafka or HTTP here.
 */
export class Pipeline implements Settlement<EventRef> {
  private generation = 0;
  private trackers = new Map<string, PartitionTracker>();
  private seq = 0;
  private readonly settledRefs = new WeakSet<EventRef>();
  private readonly exportsByName: ReadonlyMap<string, ExportConfig>;
  /** Partitions of all source topics together (for each member's share of the account budgets). */
  totalPartitions = 0;
  readonly totals: Totals = { consumed: 0, delivered: 0, deadLettered: 0, skipped: 0 };

  constructor(
    private readonly config: Config,
    private readonly router: Router,
    readonly accounts: ReadonlyMap<string, AccountDelivery<EventRef>>,
    private readonly dlq: DeadLetterProducer,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly wire?: WireDecoder,
    /** The membership ledger (config.ledger.enabled): staleness across restarts and replays, re-entry. */
    private readonly ledger?: Ledger,
  ) {
    this.exportsByName = new Map(config.exports.map((e) => [e.name, e]));
  }

  /**
   * A new group generation. kafkajs restarts every assigned partition from its committed offset, so all state
   * of the old generation is dropped: trackers, and buffered changes not yet sent. Imports already sent finish,
   * but their settlements no longer move offsets; the re-fetched events settle instead.
   */
  assign(assignment: Record<string, number[]>): void {
    this.generation++;
    const generation = this.generation;
    this.trackers = new Map();
    this.ledger?.assign(assignment);
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) this.trackers.set(tpKey(topic, p), new PartitionTracker());
    }
    let dropped = 0;
    const share = this.totalPartitions > 0 ? Math.min(1, this.trackers.size / this.totalPartitions) : 1;
    for (const account of this.accounts.values()) {
      dropped += account.dropRevoked((ref) => ref.generation !== generation).length;
      account.setPartitionShare(share);
    }
    this.log.info({ generation, partitions: this.trackers.size, dropped }, 'Partitions assigned');
    this.updatePending();
  }

  /** True while any account is failing: fetching pauses until it answers again. */
  get accountDown(): boolean {
    for (const a of this.accounts.values()) if (a.down) return true;
    return false;
  }

  /** Serialized bytes waiting in every account's buffer. */
  get bufferedBytes(): number {
    let n = 0;
    for (const a of this.accounts.values()) n += a.buffer.bytes;
    return n;
  }

  get pending(): number {
    let n = 0;
    for (const t of this.trackers.values()) n += t.pending;
    return n;
  }

  /**
   * Processes one fetched batch of one partition. Only the wire-format (Avro) path awaits. A retriable error
   * (never a record's fault) stops the batch at that record and is returned: the caller re-fetches from there later.
   */
  async handle(messages: readonly SourceMessage[], lastOffset: number): Promise<Stall | undefined> {
    const first = messages[0];
    if (!first) return;
    const tracker = this.trackers.get(tpKey(first.topic, first.partition));
    if (!tracker) return;
    const restoring = this.ledger?.whenReady(first.topic, first.partition);
    if (restoring) return { offset: first.offset, error: new SyncError('LEDGER_RESTORING', 'the ledger of this partition is being restored', true), until: restoring };
    let consumed = 0;
    let stale = 0;
    let ledgerStale = 0;
    let leaves = 0;
    let stall: Stall | undefined;
    for (const message of messages) {
      let change: MembershipChange;
      try {
        const value = this.wire && message.value && isWireFormat(message.value) ? await this.wire.decode(message.value) : decodeJson(message.value, this.config.ingest.maxEventBytes);
        const parsed = parseMembershipChange(value);
        if (!parsed.ok) throw new RecordError('validate', 'INVALID_EVENT', parsed.reason);
        change = parsed.change;
      } catch (err) {
        if (err instanceof SyncError && err.retriable) {
          stall = { offset: message.offset, error: err };
          break;
        }
        if (!(err instanceof RecordError)) throw err;
        if (!tracker.begin(message.offset)) continue;
        consumed++;
        this.reject(message, undefined, err.stage, err.code, err.message);
        continue;
      }
      const exports = this.router.route(change.segmentId);
      if (exports.length === 0) {
        if (!tracker.begin(message.offset)) continue;
        consumed++;
        if (this.config.unmappedSegments === 'dead-letter') {
          this.reject(message, undefined, 'map', 'UNMAPPED_SEGMENT', `no enabled export maps segment "${change.segmentId}"`);
        } else {
          tracker.settle(message.offset);
          this.count(message.topic, 'unmapped', 1);
          this.totals.skipped++;
        }
        continue;
      }
      if (!tracker.begin(message.offset, exports.length)) continue;
      consumed++;
      for (const exp of exports) {
        if (change.op === 'remove' && exp.onLeave === 'nothing') {
          tracker.settle(message.offset);
          leaves++;
          continue;
        }
        if (this.ledger && isStale(this.ledger.lookup(message.topic, message.partition, exp.connection, exp.listId, change.profile.email), change.occurredAt)) {
          tracker.settle(message.offset);
          ledgerStale++;
          continue;
        }
        const ref: EventRef = { message, generation: this.generation, exportName: exp.name, occurredAt: change.occurredAt };
        if (this.accounts.get(exp.connection)!.add(this.router.update(exp, change, this.seq++, ref)) === 'superseded-on-arrival') stale++;
      }
    }
    if (!stall) tracker.skipThrough(lastOffset);
    const looked = stall ? messages.findIndex((m) => m.offset === stall.offset) : messages.length;
    // Counted per batch: offsets seen before (a re-fetch), and changes older than the one already buffered.
    if (looked > consumed) this.count(first.topic, 'duplicate', looked - consumed);
    if (stale + ledgerStale) this.count(first.topic, 'stale', stale + ledgerStale);
    if (leaves) this.count(first.topic, 'leave_ignored', leaves);
    this.totals.skipped += ledgerStale + leaves;
    this.totals.consumed += consumed;
    this.updatePending();
    return stall;
  }

  settle(refs: EventRef[]): void {
    let n = 0;
    for (const ref of refs) if (this.settleOnce(ref)) n++;
    if (n) {
      this.totals.delivered += n;
      this.count(refs[0]!.message.topic, 'delivered', n);
    }
    this.updatePending();
  }

  /** Changes found stale when their import was cut (the ledger moved on meanwhile): settled, never sent. */
  skipped(refs: EventRef[], result: 'stale'): void {
    let n = 0;
    for (const ref of refs) if (this.settleOnce(ref)) n++;
    if (n) {
      this.totals.skipped += n;
      this.count(refs[0]!.message.topic, result, n);
    }
    this.updatePending();
  }

  /**
   * How a buffered change goes out, by what the ledger holds for it now. A change of an earlier generation is
   * not sent: its events were not committed, so their partition's owner fetches them again.
   */
  route(connection: string, email: string, listId: string, change: ListChange<EventRef>): Route {
    if (!this.ledger) return { kind: 'import' };
    const ref = winner(change);
    if (!ref || ref.generation !== this.generation) return { kind: 'stale' };
    const entry = this.ledger.lookup(ref.message.topic, ref.message.partition, connection, listId, email);
    return routeChange(entry, change.op, change.occurredAt, this.exportsByName.get(ref.exportName)?.reentry ?? true);
  }

  /**
   * Confirmed changes: recorded in the ledger (memory now, the topic acknowledged) before their refs settle. A
   * consent refusal is dead-lettered first and recorded after: a crash in between sends it again rather than
   * losing its dead letter. `onSettled` sees refs settled as delivered. Changes of an earlier generation are
   * dropped: their events are fetched again.
   */
  applied(connection: string, changes: AppliedChange<EventRef>[], onSettled?: (refs: EventRef[]) => void): void {
    // The refs of every applied change settle together, once the last of their records is acknowledged.
    const ok: EventRef[] = [];
    let left = 1;
    const written = () => {
      if (--left > 0 || ok.length === 0) return;
      this.settle(ok);
      onSettled?.(ok);
    };
    for (const c of changes) {
      const ref = winner(c);
      if (!ref) continue;
      if (!this.ledger) {
        if (c.refused) this.deadLetter(c.refs, 'confirm', c.refused.code, c.refused.message);
        else if (!c.settled) ok.push(...c.refs);
        continue;
      }
      if (ref.generation !== this.generation) {
        // A change fetched before the last rebalance: not recorded (its events are fetched again). Older events
        // of this generation may have been attached to it while it was in flight; they are superseded by a
        // confirmed change and settle (settle() passes over the earlier generation's own refs).
        // A refused one too: the older events attached to it are superseded; its own event is refused again.
        if (!c.settled) ok.push(...c.refs);
        continue;
      }
      const { topic, partition } = ref.message;
      const record = (done: () => void) => this.ledger!.record(topic, partition, connection, c.listId, c.email, recordFor(this.ledger!.lookup(topic, partition, connection, c.listId, c.email), { ...c, refused: c.refused?.code }), done);
      if (c.refused) {
        const { code, message } = c.refused;
        let letters = c.refs.length;
        for (const r of c.refs) {
          this.dlq.push({ message: r.message, exportName: r.exportName, stage: 'confirm', code, reason: message, attempts: 1 }, () => {
            if (--letters === 0) record(() => this.settleDead(c.refs));
          });
        }
        continue;
      }
      if (!c.settled) ok.push(...c.refs);
      left++;
      record(written);
    }
    written();
  }


  accepted(refs: EventRef[], at: number): void {
    for (const ref of refs) {
      this.metrics.endToEnd.observe({ from: 'append' }, Math.max(0, at - ref.message.timestamp) / 1000);
      this.metrics.endToEnd.observe({ from: 'event' }, Math.max(0, at - ref.occurredAt) / 1000);
    }
  }

  deadLetter(refs: EventRef[], stage: Stage, code: string, message: string): void {
    for (const ref of refs) this.dlq.push({ message: ref.message, exportName: ref.exportName, stage, code, reason: message, attempts: 1 }, () => this.settleDead([ref]));
  }

  /**
   * Settles one event's share for one export, once. The tracker counts settles per offset, so a second settle of
   * the same ref (an import accepted again after a resubmission, a dead letter after a settle at acceptance)
   * would stand in for another export's share and let the offset commit too early.
   */
  private settleOnce(ref: EventRef): boolean {
    if (ref.generation !== this.generation || this.settledRefs.has(ref)) return false;
    this.settledRefs.add(ref);
    this.trackers.get(tpKey(ref.message.topic, ref.message.partition))?.settle(ref.message.offset);
    return true;
  }

  /** Dead-lettered refs settle (those of the current generation). */
  private settleDead(refs: EventRef[]): void {
    for (const ref of refs) {
      if (!this.settleOnce(ref)) continue;
      this.totals.deadLettered++;
      this.count(ref.message.topic, 'dead_lettered', 1);
    }
    this.updatePending();
  }

  /**
   * Offsets first..last hold no record to wait for (a fetch of transaction markers or aborted records only, or a
   * bounded run's end): they count as settled. Ignored unless it continues what the partition has seen.
   */
  skipThrough(topic: string, partition: number, first: number, last: number): void {
    const tracker = this.trackers.get(tpKey(topic, partition));
    if (!tracker || (tracker.seen >= 0 && tracker.seen < first - 1)) return;
    tracker.skipThrough(last);
    this.updatePending();
  }

  /** Offsets to commit now, for the partitions of the current generation only. */
  commits(): { topic: string; partition: number; offset: string }[] {
    const out: { topic: string; partition: number; offset: string }[] = [];
    for (const [key, tracker] of this.trackers) {
      const next = tracker.commit();
      if (next === undefined) continue;
      const [topic, partition] = key.split('\u0000') as [string, string];
      out.push({ topic, partition: Number(partition), offset: String(next) });
    }
    if (out.length) this.updatePending(); // trackers forget settled offsets only as they hand them out
    return out;
  }

  private reject(message: SourceMessage, exportName: string | undefined, stage: Stage, code: string, reason: string): void {
    this.log.warn({ topic: message.topic, partition: message.partition, offset: message.offset, stage, code }, `A record was refused: ${reason}`);
    const generation = this.generation;
    this.dlq.push({ message, exportName, stage, code, reason, attempts: 1 }, () => {
      if (generation !== this.generation) return;
      this.trackers.get(tpKey(message.topic, message.partition))?.settle(message.offset);
      this.totals.deadLettered++;
      this.count(message.topic, stage === 'map' ? 'unmapped' : 'invalid', 1);
      this.updatePending();
    });
  }

  private count(topic: string, result: string, n: number): void {
    this.metrics.eventsConsumed.inc({ topic, result }, n);
  }

  private updatePending(): void {
    this.metrics.pendingEvents.set(this.pending);
  }
}

/** The event that set a change's current op (its occurredAt), else the last one attached. */
function winner(change: { occurredAt: number; refs: readonly EventRef[] }): EventRef | undefined {
  for (let i = change.refs.length - 1; i >= 0; i--) if (change.refs[i]!.occurredAt === change.occurredAt) return change.refs[i];
  return change.refs[change.refs.length - 1];
}
