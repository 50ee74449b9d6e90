import type { Admin, CompressionTypes, Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { AckedWriter } from '../kafka/acked-writer.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { ensureTopic } from '../kafka/topics.js';
import type { Metrics } from '../observability/metrics.js';
import type { OptOuts } from './gate.js';
import type { PersonHasher } from '../ledger/erasure.js';
import { consentKey } from './key.js';
import { decodeConsent, encodeConsent, mergeConsent, withOptOut, type ConsentRecord } from './record.js';

export interface ConsentTopicOptions {
  kafka: Kafka;
  admin: Admin;
  producer: Pick<Producer, 'sendBatch'>;
  topic: string;
  /** Group ids of the bounded reads: `<groupPrefix>.read.<uuid>`, never committed. */
  groupPrefix: string;
  /** How often the topic is read again from where the last read ended (records of the other instances). */
  refreshMs: number;
  compression?: CompressionTypes;
  /** The ledger's email hasher (`ledger.hashKey`): keys hold its hash instead of the email when it is keyed. */
  hasher?: PersonHasher;
  metrics: Metrics;
  log: Logger;
}

/**
 * The compacted consent topic and its whole content in memory: every instance reads it in full at start (before
 * its consumer starts), then again every `refreshMs` from the offsets it reached, with the one bounded reader
 * (kafka/read-to-end.ts), since any instance may receive a webhook. An opt-out an instance records itself is
 * in its memory at once. Records of one key are merged (each list at its newest opt-out), so a record read late
 * never loses one held.
 */
export class ConsentTopic implements OptOuts {
  private readonly held = new Map<string, ConsentRecord>();
  private readonly next = new Map<number, number>();
  private readonly writer: AckedWriter<{ key: string; value: string }>;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private closed = false;

  constructor(private readonly o: ConsentTopicOptions) {
    this.writer = new AckedWriter({
      name: 'consent',
      producer: o.producer,
      admin: o.admin,
      ...(o.compression !== undefined ? { compression: o.compression } : {}),
      encode: (w) => ({ topic: o.topic, key: w.key, value: w.value }),
      coalesceKey: (w) => w.key,
      metrics: o.metrics,
      log: o.log,
    });
  }

  /** Creates the topic when missing (compacted), reads it in full, then keeps reading it. */
  async start(): Promise<void> {
    await ensureTopic(this.o.admin, this.o.topic, 1, { 'cleanup.policy': 'compact' });
    const n = await this.readMore();
    this.o.log.info({ topic: this.o.topic, records: n, people: this.held.size }, 'Read the consent topic');
    this.schedule();
  }

  optedOut(connection: string, email: string, listId: string): number | undefined {
    return this.held.get(consentKey(connection, email, this.o.hasher))?.lists[listId];
  }

  /** Records the person's own opt-out: in memory at once, resolved once the broker acknowledged it. */
  record(connection: string, email: string, listId: string, at: number): Promise<void> {
    const key = consentKey(connection, email, this.o.hasher);
    const merged = withOptOut(this.held.get(key), listId, at);
    this.hold(key, merged);
    return this.writer.write({ key, value: encodeConsent(merged) });
  }

  async close(deadlineMs: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort(new Error('the consent topic was closed'));
    await this.writer.close(deadlineMs);
    await this.reading?.catch(() => undefined);
  }

  private hold(key: string, r: ConsentRecord): void {
    this.held.set(key, r);
    this.o.metrics.consentOptOuts.set(this.held.size);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.reading = this.readMore().then(
        () => undefined,
        (err: unknown) =>
          void (
            this.closed ||
            this.o.log.warn({ err: (err as Error).message }, 'Reading the consent topic failed; trying again')
          ),
      );
      void this.reading.finally(() => this.schedule());
    }, this.o.refreshMs);
    this.timer.unref();
  }

  private readMore(): Promise<number> {
    return readToEnd(
      this.o.kafka,
      this.o.admin,
      this.o.topic,
      (r) => {
        this.next.set(r.partition, r.offset + 1);
        const value = decodeConsent(r.value);
        if (!r.key || !value) return;
        const key = r.key.toString('utf8');
        this.hold(key, mergeConsent(this.held.get(key), value));
      },
      { groupPrefix: this.o.groupPrefix, from: this.next, signal: this.abort.signal },
    );
  }
}
