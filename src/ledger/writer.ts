import type { CompressionTypes, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';

export interface LedgerWrite {
  topic: string;
  partition: number;
  key: string;
  value: string;
}

/**
 * Writes ledger records in order, acknowledged by all in-sync replicas. `onWritten` runs only after the broker
 * acknowledged, so the source offsets the records stand for may then be committed. One batch in flight at a
 * time and a failed batch retried first: records of one key never overtake each other.
 */
export class LedgerWriter {
  private queue: { write: LedgerWrite; onWritten: () => void }[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly producer: Producer,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly compression?: CompressionTypes,
  ) {}

  push(write: LedgerWrite, onWritten: () => void): void {
    this.queue.push({ write, onWritten });
    if (this.running || this.scheduled || this.closed) return;
    // One tick later, so the records of one confirmation go out together.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  get backlog(): number {
    return this.queue.length;
  }

  /** Writes until the queue is empty (joins a flush already running). */
  flush(): Promise<void> {
    if (!this.running && this.queue.length && !this.closed) this.running = this.drain();
    return this.running ?? Promise.resolve();
  }

  /** `running` is cleared in the same turn as the loop sees an empty queue: a push never falls between. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length && !this.closed) {
        const batch = this.queue.splice(0, 1_000);
        const byTopic = new Map<string, { key: string; value: string; partition: number }[]>();
        for (const { write } of batch) {
          const list = byTopic.get(write.topic) ?? [];
          list.push({ key: write.key, value: write.value, partition: write.partition });
          byTopic.set(write.topic, list);
        }
        try {
          await this.producer.sendBatch({ acks: -1, compression: this.compression, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
          this.failures = 0;
          this.metrics.ledgerWrites.inc(batch.length);
          for (const { onWritten } of batch) onWritten();
        } catch (err) {
          this.queue.unshift(...batch);
          this.failures++;
          const wait = Math.min(30_000, 200 * 2 ** Math.min(this.failures, 8));
          this.log.error({ err: (err as Error).message, records: batch.length, retryInMs: wait }, 'Writing to the ledger topic failed; the source offsets stay uncommitted and the write is retried');
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  /** Flushes what is queued (giving up after `deadlineMs`: those offsets stay uncommitted), then stops. */
  async close(deadlineMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((r) => (timer = setTimeout(r, deadlineMs)))]);
    clearTimeout(timer);
    this.closed = true;
  }
}
