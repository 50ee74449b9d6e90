import type { Admin, CompressionTypes, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { SyncError } from '../domain/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { backoffDelay } from '../domain/backoff.js';
import { systemClock, type Clock } from './clock.js';
import { TopicLimits, cutBatch, roomFor, topicMessages, topicsAhead } from './batches.js';
import { classifyWriteError, recordBytes, type EncodedRecord, type WriteFailure } from './record-size.js';

/** The writer was closed before the item was acknowledged: it stayed unwritten. */
export class WriterClosedError extends SyncError {
  constructor(writer: string) {
    super(
      'WRITER_CLOSED',
      `the ${writer} writer was closed before this record was acknowledged: it stayed unwritten`,
      false,
    );
  }
}

/** The item was dropped by discard() (e.g. its partition was revoked) before it was sent: it stayed unwritten. */
export class DiscardedError extends SyncError {
  constructor(writer: string) {
    super(
      'WRITE_DISCARDED',
      `the ${writer} writer discarded this record before sending it: it stayed unwritten`,
      false,
    );
  }
}

export interface AckedWriterOptions<T> {
  /** Metric label and log name: a bounded set (`dead_letter`, `ledger`). */
  name: string;
  producer: Pick<Producer, 'sendBatch'>;
  /** Reads each topic's `max.message.bytes` once; without it (or when it fails) `maxMessageBytes` is used. */
  admin?: Pick<Admin, 'describeConfigs'>;
  encode(item: T): EncodedRecord;
  /**
   * Items with one key: a queued one is replaced by a newer one, whose ack settles both.
   * One key is never sent twice at once.
   */
  coalesceKey?(item: T): string;
  /** A smaller replacement when the record is over `limitBytes` (as counted by recordBytes()). */
  shrink?(item: T, limitBytes: number): EncodedRecord;
  compression?: CompressionTypes;
  /** Fallback for a topic whose limit cannot be read. Default: Kafka's default, 1,048,588. */
  maxMessageBytes?: number;
  maxBatchRecords?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** A batch failing this many times in a row for no reason that names a record is split anyway. */
  splitAfterFailures?: number;
  /** How long the broker may take to acknowledge one batch. */
  ackTimeoutMs?: number;
  clock?: Clock;
  random?: () => number;
  /** Called once per acknowledged batch with its items (for metrics). */
  onWritten?(items: readonly T[]): void;
  metrics: Metrics;
  log: Logger;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

interface Entry<T> {
  item: T;
  record: EncodedRecord;
  bytes: number;
  key: string | undefined;
  waiters: Waiter[];
  discarded: boolean;
  /** Set once the record was refused alone: it is retried on its own, with its own backoff. */
  stuck?: { attempts: number; notBefore: number };
  /** After the broker refused it as too large: the size to shrink it to (halved each time). */
  shrinkTo?: number;
}

/** Below this a refused record is not shrunk further: what is refused is not its size. */
const MIN_SHRINK_BYTES = 1_024;

/**
 * The one writer loop for every topic the service writes (dead letters, ledger records): a queue, batches that
 * stay under each topic's `max.message.bytes`, acks from all in-sync replicas, and a backoff. `write()` resolves
 * once the broker acknowledged the record, so what it stands for may then be committed.
 *
 * No single record blocks the others. A batch refused for its records is split until the culprit is alone; a
 * record refused alone is counted, alarmed (`writer_stuck_records`) and retried on its own with its own backoff
 * while the queue goes on. A failure that names no record (the broker is away) backs off and sends the same
 * batch again; when it keeps failing it is split anyway, so a record refused with an unknown error is found too.
 */
export class AckedWriter<T> {
  private queue: Entry<T>[] = [];
  private readonly stuck: Entry<T>[] = [];
  private readonly sending = new Set<Entry<T>>();
  /** key → the entry of that key not yet sent (queued or stuck): the one a newer item replaces. */
  private readonly waiting = new Map<string, Entry<T>>();
  private readonly keysInFlight = new Map<string, number>();
  private readonly sends = new Set<Promise<unknown>>();
  /** Every entry with waiters, wherever it is (queued, stuck, in flight, being split): close() settles them all. */
  private readonly open = new Set<Entry<T>>();
  private readonly limits: TopicLimits;
  private readonly stop = new AbortController();
  private pending = 0;
  private drainedWaiters: (() => void)[] = [];
  private pumping = false;
  private retryingStuck = false;
  private failures = 0;
  private closing: Promise<{ unwritten: number }> | undefined;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly o: AckedWriterOptions<T>) {
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
    this.limits = new TopicLimits(o.admin, o.maxMessageBytes, (topic, err, fallbackBytes) =>
      o.log.warn(
        { writer: o.name, topic, err: err.message, fallbackBytes },
        'Could not read the topic max.message.bytes; batches stay under the fallback',
      ),
    );
  }

  /** Resolves once the broker acknowledged the item (or a newer one of its coalesce key). */
  write(item: T): Promise<void> {
    if (this.closing) return Promise.reject(new WriterClosedError(this.o.name));
    // Encoded before anything is counted or replaced: an item that cannot be encoded rejects alone.
    let record: EncodedRecord;
    try {
      record = this.o.encode(item);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.pending++;
      const waiter = { resolve, reject };
      const key = this.o.coalesceKey?.(item);
      const older = key === undefined ? undefined : this.waiting.get(key);
      if (older) {
        older.item = item;
        older.record = record;
        older.bytes = recordBytes(record);
        older.shrinkTo = undefined;
        older.waiters.push(waiter);
        // A newer record replaces a stuck one: it gets its own chance in the queue.
        const stuckAt = older.stuck ? this.stuck.indexOf(older) : -1;
        if (stuckAt >= 0) {
          this.stuck.splice(stuckAt, 1);
          older.stuck = undefined;
          this.queue.push(older);
          this.updateGauges();
        }
      } else {
        const entry: Entry<T> = { item, record, bytes: recordBytes(record), key, waiters: [waiter], discarded: false };
        this.queue.push(entry);
        this.open.add(entry);
        if (key !== undefined) this.waiting.set(key, entry);
      }
      this.schedule();
    });
  }

  /** Items written but not acknowledged yet (queued, in flight or stuck). */
  get backlog(): number {
    return this.pending;
  }

  /** Records refused on their own, retried with backoff. */
  get stuckRecords(): number {
    return this.stuck.length;
  }

  /**
   * Drops queued items not sent yet for which `pred` holds; their promises reject with DiscardedError. Items in
   * flight at this moment are not retried if their send fails. Answers how many queued items were dropped.
   */
  discard(pred: (item: T) => boolean): number {
    let dropped = 0;
    const keep = (list: Entry<T>[]) => {
      for (let i = list.length - 1; i >= 0; i--) {
        const e = list[i]!;
        if (!pred(e.item)) continue;
        list.splice(i, 1);
        dropped += e.waiters.length;
        this.settle(e, new DiscardedError(this.o.name));
      }
    };
    keep(this.queue);
    keep(this.stuck);
    for (const e of this.sending) if (pred(e.item)) e.discarded = true;
    this.updateGauges();
    return dropped;
  }

  /** Resolves when the sends in flight now have finished (acknowledged or failed): nothing discarded is sent after. */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.sends]);
  }

  /**
   * Writes what is queued until `deadlineMs` passes, then stops: whatever is still unacknowledged rejects with
   * WriterClosedError, and `unwritten` counts it. Writes after close() reject at once. Idempotent.
   */
  close(deadlineMs: number): Promise<{ unwritten: number }> {
    return (this.closing ??= this.shutDown(deadlineMs));
  }

  private async shutDown(deadlineMs: number): Promise<{ unwritten: number }> {
    const deadline = new AbortController();
    const drained = this.pending === 0 ? Promise.resolve() : new Promise<void>((r) => this.drainedWaiters.push(r));
    await Promise.race([drained, this.clock.sleep(deadlineMs, deadline.signal)]);
    deadline.abort();
    this.stop.abort();
    const unwritten = this.pending;
    const closed = new WriterClosedError(this.o.name);
    this.queue.splice(0);
    this.stuck.splice(0);
    for (const e of [...this.open]) this.settle(e, closed);
    this.updateGauges();
    if (unwritten)
      this.o.log.warn(
        { writer: this.o.name, unwritten },
        'The writer stopped with records not acknowledged; what they stand for stays uncommitted',
      );
    return { unwritten };
  }

  private get stopped(): boolean {
    return this.stop.signal.aborted;
  }

  /** One tick later, so the records of one decision go out together. */
  private schedule(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    setImmediate(() => void this.pump());
  }

  private async pump(): Promise<void> {
    try {
      while (!this.stopped) {
        const batch = await this.nextBatch();
        if (batch.length === 0) break;
        const err = await this.attempt(batch);
        if (err === undefined) continue;
        const failure = classifyWriteError(err);
        const split = this.o.splitAfterFailures ?? 5;
        this.failures++;
        if (failure.kind === 'record' || this.failures % split === 0) {
          await this.isolate(batch, failure, err);
          continue;
        }
        this.requeue(batch);
        const wait = backoffDelay(this.failures, this.backoff, this.random);
        this.o.metrics.writerFailures.inc({ writer: this.o.name, reason: 'batch' });
        this.o.log.warn(
          { writer: this.o.name, err: (err as Error).message, records: batch.length, retryInMs: wait },
          'A write to Kafka failed; it is retried, and what it stands for stays uncommitted meanwhile',
        );
        await this.clock.sleep(wait, this.stop.signal);
      }
    } finally {
      this.pumping = false;
      if (this.queue.some((e) => !this.blocked(e))) this.schedule();
    }
  }

  /**
   * The batch failed together: halves are tried until the record that fails is alone. A half that is written
   * is done; the other half is tried on its own. The rest goes back to the front of the queue.
   */
  private async isolate(batch: Entry<T>[], failure: WriteFailure, error: unknown): Promise<void> {
    let entries = batch;
    while (entries.length > 1) {
      const half = entries.slice(0, Math.ceil(entries.length / 2));
      const rest = entries.slice(half.length);
      const err = await this.attempt(half);
      if (err !== undefined) {
        this.requeue(rest);
        [entries, failure, error] = [this.undiscarded(half), classifyWriteError(err), err];
        continue;
      }
      const again = await this.attempt(rest);
      if (again === undefined) return;
      [entries, failure, error] = [this.undiscarded(rest), classifyWriteError(again), again];
    }
    const [e] = entries;
    if (e) this.refused(e, failure, error);
  }

  /** A record failed on its own. Too large and shrinkable: shrunk further; otherwise stuck, retried alone. */
  private refused(e: Entry<T>, failure: WriteFailure, err: unknown): void {
    if (e.discarded || this.stopped)
      return void this.settle(e, this.stopped ? new WriterClosedError(this.o.name) : new DiscardedError(this.o.name));
    if (failure.tooLarge && this.o.shrink && (e.shrinkTo ?? e.bytes) > MIN_SHRINK_BYTES) {
      e.shrinkTo = Math.floor((e.shrinkTo ?? e.bytes) / 2);
      this.requeue([e]);
      return;
    }
    if (this.supersede(e)) return;
    e.stuck = { attempts: 1, notBefore: this.clock.now() + backoffDelay(1, this.backoff, this.random) };
    this.stuck.push(e);
    if (e.key !== undefined) this.waiting.set(e.key, e);
    this.o.metrics.writerRefused.inc({
      writer: this.o.name,
      reason: failure.tooLarge ? 'too_large' : failure.kind === 'record' ? 'refused' : 'failing',
    });
    this.o.log.error(
      {
        writer: this.o.name,
        topic: e.record.topic,
        partition: e.record.partition,
        bytes: e.bytes,
        err: (err as Error)?.message,
        errorType: failure.type,
      },
      'Kafka refuses one record: it is retried on its own while the ' +
        'others are written, and what it stands for stays uncommitted',
    );
    this.updateGauges();
    void this.retryStuck();
  }

  /** One loop retries the stuck records, each on its own schedule, beside the main queue. */
  private async retryStuck(): Promise<void> {
    if (this.retryingStuck) return;
    this.retryingStuck = true;
    try {
      while (!this.stopped && this.stuck.length) {
        const next = this.stuck
          .filter((e) => !this.blocked(e))
          .sort((a, b) => a.stuck!.notBefore - b.stuck!.notBefore)[0];
        if (!next) break;
        const wait = next.stuck!.notBefore - this.clock.now();
        if (wait > 0) {
          await this.clock.sleep(wait, this.stop.signal);
          continue;
        }
        const limit = await this.limits.of(next.record.topic);
        // Synchronous from the check to the send (attempt() marks the key in flight before it awaits).
        const at = this.stuck.indexOf(next);
        if (at < 0 || this.blocked(next)) continue;
        this.stuck.splice(at, 1);
        this.shrinkToFit(next, limit);
        const err = await this.attempt([next]);
        if (err === undefined) {
          this.o.log.info(
            { writer: this.o.name, topic: next.record.topic, attempts: next.stuck!.attempts + 1 },
            'A record Kafka refused before is written now',
          );
          next.stuck = undefined;
        } else if (next.discarded || this.stopped) {
          this.settle(next, this.stopped ? new WriterClosedError(this.o.name) : new DiscardedError(this.o.name));
        } else if (!this.supersede(next)) {
          const failure = classifyWriteError(err);
          if (failure.tooLarge && this.o.shrink)
            next.shrinkTo = Math.max(MIN_SHRINK_BYTES, Math.floor((next.shrinkTo ?? next.bytes) / 2));
          next.stuck!.attempts++;
          next.stuck!.notBefore = this.clock.now() + backoffDelay(next.stuck!.attempts, this.backoff, this.random);
          this.stuck.push(next);
          if (next.key !== undefined) this.waiting.set(next.key, next);
        }
        this.updateGauges();
      }
    } finally {
      this.retryingStuck = false;
      this.updateGauges();
    }
  }

  private get backoff() {
    return this.o.backoff ?? { initialMs: 200, maxMs: 30_000 };
  }

  /** A record of a key in flight waits: records of one key never overtake each other. */
  private blocked(e: Entry<T>): boolean {
    return e.key !== undefined && this.keysInFlight.has(e.key);
  }

  /** The next batch (cutBatch), taken off the queue. */
  private async nextBatch(): Promise<Entry<T>[]> {
    const maxRecords = this.o.maxBatchRecords ?? 1_000;
    const limits = new Map<string, number>();
    for (const topic of topicsAhead(this.queue, maxRecords)) limits.set(topic, await this.limits.of(topic));
    // Synchronous from here on: nothing joins or leaves the queue while the batch is cut.
    const batch = cutBatch(this.queue, limits, {
      maxRecords,
      compression: this.o.compression,
      skip: (e) => this.blocked(e),
      fit: (e, limit) => this.shrinkToFit(e, limit),
    });
    // Usually the head of the queue; entries of a key in flight may have been skipped.
    if (batch.every((e, i) => this.queue[i] === e)) this.queue.splice(0, batch.length);
    else {
      const taken = new Set(batch);
      this.queue = this.queue.filter((e) => !taken.has(e));
    }
    return batch;
  }

  private shrinkToFit(e: Entry<T>, limit: number): void {
    if (!this.o.shrink) return;
    const room = roomFor(limit, this.o.compression);
    const target = Math.min(room, e.shrinkTo ?? room);
    if (e.bytes <= target) return;
    const before = e.bytes;
    e.record = this.o.shrink(e.item, target);
    e.bytes = recordBytes(e.record);
    this.o.metrics.writerShrunk.inc({ writer: this.o.name });
    this.o.log.warn(
      { writer: this.o.name, topic: e.record.topic, bytes: before, limitBytes: target, keptBytes: e.bytes },
      'A record over the topic limit is written cut to fit; its headers say what was cut',
    );
  }

  /** The entries not discarded; the discarded ones are settled (DiscardedError), or all of them once closed. */
  private undiscarded(entries: Entry<T>[]): Entry<T>[] {
    return entries.filter((e) => {
      if (!e.discarded && !this.stopped) return true;
      this.settle(e, this.stopped ? new WriterClosedError(this.o.name) : new DiscardedError(this.o.name));
      return false;
    });
  }

  /** Sends entries once; undefined when acknowledged, else the error (entries are then nobody's until placed). */
  private async attempt(entries: Entry<T>[]): Promise<unknown> {
    const live = this.undiscarded(entries);
    if (this.stopped) return new WriterClosedError(this.o.name);
    if (live.length === 0) return undefined;
    for (const e of live) {
      this.sending.add(e);
      if (e.key !== undefined) {
        if (this.waiting.get(e.key) === e) this.waiting.delete(e.key);
        this.keysInFlight.set(e.key, (this.keysInFlight.get(e.key) ?? 0) + 1);
      }
    }
    const bytes = live.reduce((n, e) => n + e.bytes, 0);
    const send = this.o.producer
      .sendBatch({
        acks: -1,
        timeout: this.o.ackTimeoutMs ?? 30_000,
        ...(this.o.compression !== undefined ? { compression: this.o.compression } : {}),
        topicMessages: topicMessages(live.map((e) => e.record)),
      })
      .then(
        () => undefined,
        (err: unknown) => err ?? new Error('sendBatch failed'),
      );
    this.sends.add(send);
    const err = await send;
    this.sends.delete(send);
    for (const e of live) {
      this.sending.delete(e);
      if (e.key === undefined) continue;
      const n = (this.keysInFlight.get(e.key) ?? 1) - 1;
      if (n > 0) this.keysInFlight.set(e.key, n);
      else this.keysInFlight.delete(e.key);
    }
    this.o.metrics.writerBatches.inc({ writer: this.o.name, result: err === undefined ? 'written' : 'failed' });
    if (err === undefined) {
      this.failures = 0;
      this.o.metrics.writerBatchBytes.observe({ writer: this.o.name }, bytes);
      this.o.onWritten?.(live.map((e) => e.item));
      for (const e of live) this.settle(e);
    }
    // Entries of a key that was in flight may go now.
    if (this.queue.length) this.schedule();
    if (this.stuck.length) void this.retryStuck();
    this.updateGauges();
    return err;
  }

  /** Failed entries go back to the front of the queue, in order (or into a newer entry of their key). */
  private requeue(entries: Entry<T>[]): void {
    const back: Entry<T>[] = [];
    for (const e of entries) {
      if (e.discarded || this.stopped)
        this.settle(e, this.stopped ? new WriterClosedError(this.o.name) : new DiscardedError(this.o.name));
      else if (!this.supersede(e)) {
        back.push(e);
        if (e.key !== undefined) this.waiting.set(e.key, e);
      }
    }
    // At most one batch (maxBatchRecords) goes back at a time.
    this.queue.unshift(...back);
  }

  /** A failed entry whose key has a newer entry waiting is replaced by it: its waiters settle with that one. */
  private supersede(e: Entry<T>): boolean {
    const newer = e.key === undefined ? undefined : this.waiting.get(e.key);
    if (!newer || newer === e) return false;
    newer.waiters.unshift(...e.waiters);
    e.waiters = [];
    this.open.delete(e);
    return true;
  }

  /** Resolves (no error) or rejects every waiter of the entry, once. */
  private settle(e: Entry<T>, err?: Error): void {
    if (e.key !== undefined && this.waiting.get(e.key) === e) this.waiting.delete(e.key);
    this.open.delete(e);
    const waiters = e.waiters;
    e.waiters = [];
    for (const w of waiters) err ? w.reject(err) : w.resolve();
    this.pending -= waiters.length;
    if (this.pending === 0) for (const r of this.drainedWaiters.splice(0)) r();
  }

  private updateGauges(): void {
    this.o.metrics.writerStuck.set({ writer: this.o.name }, this.stuck.length);
    this.o.metrics.writerBacklog.set({ writer: this.o.name }, this.pending);
  }
}
