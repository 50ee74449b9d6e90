import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AccountDelivery } from '../deliver/account-delivery.js';
import { RecordError, SyncError, type Stage } from '../domain/errors.js';
import { parseMembershipChange, type ErasureRequest, type MembershipChange } from '../domain/event.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Ownership } from '../offsets/ownership.js';
import type { Settler, Totals } from '../offsets/settler.js';
import { decodeJson, isWireFormat, type WireDecoder } from './decode.js';
import type { Router } from './router.js';
import { retain, tieOffset, type EventRef, type SourceMessage } from './source.js';

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

export type { Totals };

/** Writes a dead letter; resolves once the broker acknowledged it (src/dlq/producer.ts). */
export type DeadLetterSink = (letter: {
  message: SourceMessage;
  exportName: string | undefined;
  stage: Stage;
  code: string;
  reason: string;
  attempts: number;
}) => Promise<void>;

/**
 * Ingest: source records in (per partition batch), decoded, validated, routed to exports, begun in the settler
 * with one share per export, and added to the accounts' buffers. No Kafka or HTTP here. What happens to each
 * share afterwards is delivery's report to the outcome sink (src/offsets/outcomes.ts).
 */
export class Ingest {
  private seq = 0;
  /** Partitions of all source topics together (for each member's share of the account budgets). */
  totalPartitions = 0;

  constructor(
    private readonly config: Config,
    private readonly router: Router,
    readonly accounts: ReadonlyMap<string, AccountDelivery<EventRef>>,
    private readonly ownership: Ownership,
    readonly settler: Settler,
    private readonly deadLetter: DeadLetterSink,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly wire?: WireDecoder,
    /** The membership ledger (config.ledger.enabled): staleness across restarts and replays, re-entry. */
    private readonly ledger?: Ledger,
  ) {}

  get totals(): Totals {
    return this.settler.totals;
  }

  /**
   * A new group generation. kafkajs restarts every assigned partition from its committed offset, so all state
   * of the old generation is dropped: trackers, and buffered changes not yet sent. Imports already sent finish,
   * but their outcomes no longer move offsets; the re-fetched events settle instead.
   */
  assign(assignment: Record<string, number[]>): void {
    const generation = this.ownership.assign(assignment);
    this.settler.assign();
    this.ledger?.assign(assignment);
    let dropped = 0;
    const share = this.totalPartitions > 0 ? Math.min(1, this.ownership.size / this.totalPartitions) : 1;
    for (const account of this.accounts.values()) {
      dropped += account.dropRevoked((ref) => ref.generation !== generation).length;
      // What the email-change map knew may be out of date (a partition may have been away): the ledger's profile
      // records answer again, from the partitions as restored.
      account.emails?.reassigned();
      account.setPartitionShare(share);
    }
    this.log.info({ generation, partitions: this.ownership.size, dropped }, 'Partitions assigned');
  }

  /** True while any account is failing: fetching pauses until it answers again. */
  get accountDown(): boolean {
    for (const a of this.accounts.values()) if (a.down) return true;
    return false;
  }

  /** Serialized bytes waiting in every account's buffer, and the record copies unsettled events keep. */
  get bufferedBytes(): number {
    let n = this.settler.retainedBytes;
    for (const a of this.accounts.values()) n += a.buffer.bytes;
    return n;
  }

  get pending(): number {
    return this.settler.pending;
  }

  /**
   * Processes one fetched batch of one partition. Only the wire-format (Avro) path awaits. A retriable error
   * (never a record's fault) stops the batch at that record and is returned: the caller re-fetches from there later.
   */
  async handle(messages: readonly SourceMessage[], lastOffset: number): Promise<Stall | undefined> {
    const first = messages[0];
    if (!first) return;
    const { topic, partition } = first;
    if (!this.settler.tracking(topic, partition)) return;
    const restoring = this.ledger?.whenReady(topic, partition);
    if (restoring)
      return {
        offset: first.offset,
        error: new SyncError('LEDGER_RESTORING', 'the ledger of this partition is being restored', true),
        until: restoring,
      };
    const generation = this.ownership.generation;
    let begun = 0;
    let stale = 0;
    let stall: Stall | undefined;
    for (const message of messages) {
      let change: MembershipChange;
      try {
        const value =
          this.wire && message.value && isWireFormat(message.value)
            ? await this.wire.decode(message.value)
            : decodeJson(message.value, this.config.ingest.maxEventBytes);
        const parsed = parseMembershipChange(value);
        if (!parsed.ok) throw new RecordError('validate', 'INVALID_EVENT', parsed.reason);
        change = parsed.change;
      } catch (err) {
        if (err instanceof SyncError && err.retriable) {
          stall = { offset: message.offset, error: err };
          break;
        }
        if (!(err instanceof RecordError)) throw err;
        if (!this.settler.begin(topic, partition, message.offset, 1)) continue;
        begun++;
        this.reject(message, generation, err.stage, err.code, err.message, 'invalid');
        continue;
      }
      if (change.op === 'erase') {
        // One share per connection: each account deletes the person; the segment plays no part.
        if (!this.settler.begin(topic, partition, message.offset, Math.max(1, this.accounts.size))) continue;
        begun++;
        this.erase(message, generation, change);
        continue;
      }
      const exports = this.router.route(change.segmentId);
      if (exports.length === 0) {
        if (!this.settler.begin(topic, partition, message.offset, 1)) continue;
        begun++;
        if (this.config.unmappedSegments === 'dead-letter') {
          this.reject(
            message,
            generation,
            'map',
            'UNMAPPED_SEGMENT',
            `no enabled export maps segment "${change.segmentId}"`,
            'unmapped',
          );
        } else {
          this.settler.end({ message, generation, share: 0 }, 'unmapped');
        }
        continue;
      }
      if (!this.settler.begin(topic, partition, message.offset, exports.length)) continue;
      begun++;
      // Only an event that waits in a buffer keeps its record (a copy, for a later dead letter); the others end now.
      let kept: ReturnType<typeof retain> | undefined;
      for (let share = 0; share < exports.length; share++) {
        const exp = exports[share]!;
        const ends =
          change.op === 'remove' && exp.onLeave === 'nothing'
            ? 'leave_ignored'
            : this.ledger?.suppressed(exp.connection, change.profile.email, change.occurredAt)
              ? 'suppressed'
              : this.ledger?.isStale(
                    topic,
                    partition,
                    exp.connection,
                    exp.listId,
                    change.profile.email,
                    change.occurredAt,
                    tieOffset(message),
                    change.op,
                  )
                ? 'stale'
                : undefined;
        if (ends) {
          const now: EventRef = { message, generation, share, exportName: exp.name, occurredAt: change.occurredAt };
          this.settler.end(now, ends);
          continue;
        }
        kept ??= retain(message);
        const ref: EventRef = { message: kept, generation, share, exportName: exp.name, occurredAt: change.occurredAt };
        if (
          this.accounts
            .get(exp.connection)!
            .addFor(change.profile.id, this.router.update(exp, change, this.seq++, ref)) === 'superseded-on-arrival'
        )
          stale++;
      }
      if (kept) this.settler.retain(topic, partition, kept.keptBytes);
    }
    if (!stall) this.settler.skipThrough(topic, partition, first.offset, lastOffset);
    const looked = stall ? messages.findIndex((m) => m.offset === stall.offset) : messages.length;
    // Counted per batch: offsets seen before (a re-fetch), and changes older than the one already buffered.
    if (looked > begun) this.count(topic, 'duplicate', looked - begun);
    if (stale) this.count(topic, 'stale', stale);
    this.settler.gauge();
    return stall;
  }

  /** Hands an erasure request to every account (README "Personal data"). */
  private erase(message: SourceMessage, generation: number, change: ErasureRequest): void {
    const { topic, partition } = message;
    const {
      occurredAt,
      profile: { email, id: profileId },
    } = change;
    let share = 0;
    if (this.accounts.size === 0) this.settler.end({ message, generation, share }, 'erased');
    // Like a buffered change, a waiting erasure keeps a copy of its record, not a slice of the fetch response.
    const kept = retain(message);
    let waiting = false;
    for (const [connection, account] of this.accounts) {
      const ref: EventRef = { message: kept, generation, share: share++, exportName: '', occurredAt };
      if (this.ledger?.routeErasure(connection, email, occurredAt) === 'stale') {
        this.settler.end(ref, 'stale'); // done already: a replay of it changes nothing
        continue;
      }
      // The email-change map forgets the person (its profile record goes with the marker's write).
      account.emails?.forget(profileId, email);
      // Write-ahead: the marker first; the account deletes only once it is acknowledged.
      account.erase(
        email,
        occurredAt,
        ref,
        this.ledger?.intendErasure(topic, partition, connection, email, occurredAt, Date.now(), profileId),
      );
      waiting = true;
    }
    if (waiting) this.settler.retain(topic, partition, kept.keptBytes);
  }

  private reject(
    message: SourceMessage,
    generation: number,
    stage: Stage,
    code: string,
    reason: string,
    result: 'invalid' | 'unmapped',
  ): void {
    this.log.warn(
      { topic: message.topic, partition: message.partition, offset: message.offset, stage, code },
      `A record was refused: ${reason}`,
    );
    this.settler.end(
      { message, generation, share: 0 },
      result,
      this.deadLetter({ message: retain(message), exportName: undefined, stage, code, reason, attempts: 1 }),
      'deadLettered',
    );
  }

  private count(topic: string, result: string, n: number): void {
    this.metrics.eventsConsumed.inc({ topic, result }, n);
  }
}
