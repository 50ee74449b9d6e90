import type { CompressionTypes, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { toDeadLetterRecord, dlqTopicFor, type DeadLetter } from './envelope.js';

/**
 * Writes dead letters in small batches (acks from all in-sync replicas). `onWritten` runs only after the broker
 * acknowledged, so the source offsets they stand for may then be committed; a failed write is retried with
 * backoff and its offsets stay uncommitted meanwhile.
 */
export class DeadLetterProducer {
  private queue: { letter: DeadLetter; onWritten: () => void }[] = [];
  private flushing = false;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly producer: Producer,
    private readonly topicTemplate: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly compression?: CompressionTypes,
  ) {}

  push(letter: DeadLetter, onWritten: () => void): void {
    this.queue.push({ letter, onWritten });
    if (!this.flushing) setImmediate(() => void this.flush());
  }

  get backlog(): number {
    return this.queue.length;
  }

  async flush(): Promise<void> {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    try {
      while (this.queue.length && !this.closed) {
        const batch = this.queue.splice(0, 500);
        const byTopic = new Map<string, ReturnType<typeof toDeadLetterRecord>[]>();
        const now = Date.now();
        for (const { letter } of batch) {
          const topic = dlqTopicFor(letter.message.topic, this.topicTemplate);
          const list = byTopic.get(topic) ?? [];
          list.push(toDeadLetterRecord(letter, now));
          byTopic.set(topic, list);
        }
        try {
          await this.producer.sendBatch({ acks: -1, compression: this.compression, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
          this.failures = 0;
          for (const { letter, onWritten } of batch) {
            this.metrics.deadLetters.inc({ stage: letter.stage, code: letter.code });
            onWritten();
          }
        } catch (err) {
          this.queue.unshift(...batch);
          this.failures++;
          const wait = Math.min(30_000, 200 * 2 ** Math.min(this.failures, 8));
          this.log.error({ err: (err as Error).message, records: batch.length, retryInMs: wait }, 'Writing to the dead-letter topic failed; the source offsets stay uncommitted and the write is retried');
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Flushes what is queued (one attempt per batch while open), then stops. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
