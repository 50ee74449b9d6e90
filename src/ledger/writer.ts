import type { Admin, CompressionTypes, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { AckedWriter } from '../kafka/acked-writer.js';
import type { Clock } from '../kafka/clock.js';
import type { Metrics } from '../observability/metrics.js';

export interface LedgerWrite {
  topic: string;
  partition: number;
  key: string;
  /** null: a tombstone (an erasure's, for a key that holds an email). */
  value: string | null;
}

export interface LedgerWriterOptions {
  admin?: Pick<Admin, 'describeConfigs'>;
  compression?: CompressionTypes;
  maxMessageBytes?: number;
  clock?: Clock;
  random?: () => number;
}

/**
 * The acked writer of ledger records. Only the newest queued record of a key is kept (the compacted topic keeps
 * only the newest anyway), and records of one key are never in flight together, so they never overtake each other.
 */
export function createLedgerWriter(
  producer: Pick<Producer, 'sendBatch'>,
  metrics: Metrics,
  log: Logger,
  o: LedgerWriterOptions = {},
): AckedWriter<LedgerWrite> {
  return new AckedWriter<LedgerWrite>({
    name: 'ledger',
    producer,
    ...o,
    encode: (w) => ({ topic: w.topic, partition: w.partition, key: w.key, value: w.value }),
    coalesceKey: (w) => `${w.topic}\u0000${w.partition}\u0000${w.key}`,
    onWritten: (writes) => metrics.ledgerWrites.inc(writes.length),
    metrics,
    log,
  });
}

/**
 * Thin adapter over the acked writer, for the callers of `push(write, onWritten)`: `onWritten` runs only after
 * the broker acknowledged the record (or a newer one of its key), so the source offsets it stands for may then
 * be committed. A record left unwritten (closed, discarded) never calls it.
 */
export class LedgerWriter {
  readonly writer: AckedWriter<LedgerWrite>;

  constructor(producer: Pick<Producer, 'sendBatch'>, metrics: Metrics, log: Logger, o: LedgerWriterOptions = {}) {
    this.writer = createLedgerWriter(producer, metrics, log, o);
  }

  /** Resolves once the broker acknowledged the record; rejects with WriterClosedError or DiscardedError. */
  write(w: LedgerWrite): Promise<void> {
    return this.writer.write(w);
  }

  push(w: LedgerWrite, onWritten: () => void): void {
    this.writer.write(w).then(onWritten, () => undefined);
  }

  get backlog(): number {
    return this.writer.backlog;
  }

  /** Writes what is queued until `deadlineMs` passes (those offsets stay uncommitted), then stops. */
  close(deadlineMs: number): Promise<{ unwritten: number }> {
    return this.writer.close(deadlineMs);
  }
}
