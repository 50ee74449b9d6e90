import type { Admin, CompressionTypes, TopicMessages } from 'kafkajs';
import {
  BATCH_OVERHEAD_BYTES,
  KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
  compressionSlack,
  readMaxMessageBytes,
  type EncodedRecord,
} from './record-size.js';

/** Each topic's `max.message.bytes`, read once (the fallback when it cannot be read: no DescribeConfigs right, say). */
export class TopicLimits {
  private readonly limits = new Map<string, Promise<number>>();

  constructor(
    private readonly admin: Pick<Admin, 'describeConfigs'> | undefined,
    private readonly fallback = KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
    private readonly onUnreadable: (topic: string, err: Error, fallback: number) => void = () => undefined,
  ) {}

  of(topic: string): Promise<number> {
    let limit = this.limits.get(topic);
    if (!limit) {
      limit = (this.admin ? readMaxMessageBytes(this.admin, topic) : Promise.resolve(undefined)).then(
        (v) => v ?? this.fallback,
        (err: unknown) => {
          this.onUnreadable(topic, err as Error, this.fallback);
          return this.fallback;
        },
      );
      this.limits.set(topic, limit);
    }
    return limit;
  }
}

/** The room one record has in a batch of its own under `limit`. */
export const roomFor = (limit: number, compression: CompressionTypes | undefined) =>
  limit - BATCH_OVERHEAD_BYTES - compressionSlack(limit, compression);

export interface Batchable {
  record: EncodedRecord;
  bytes: number;
}

export interface CutOptions<E> {
  maxRecords: number;
  compression: CompressionTypes | undefined;
  /** Entries left in the queue for this batch (their key is in flight). */
  skip(e: E): boolean;
  /** Called before an entry is counted: may make it smaller (shrink) to fit `limit`. */
  fit(e: E, limit: number): void;
}

/**
 * The next batch, pure: queue order, at most `maxRecords`, the records of each topic under its limit (counted
 * without knowing the partition: the partitioner may put them all in one). It stops at the first entry that does
 * not fit, so the queue's order holds. An entry over its limit on its own is sent alone (the broker decides).
 * A topic without a known limit ends the batch.
 */
export function cutBatch<E extends Batchable>(
  queue: readonly E[],
  limits: ReadonlyMap<string, number>,
  o: CutOptions<E>,
): E[] {
  const batch: E[] = [];
  const used = new Map<string, number>();
  for (let i = 0; i < queue.length && batch.length < o.maxRecords; i++) {
    const e = queue[i]!;
    const limit = limits.get(e.record.topic);
    if (limit === undefined) break;
    if (o.skip(e)) continue;
    o.fit(e, limit);
    const bytes = (used.get(e.record.topic) ?? 0) + e.bytes;
    if (bytes + compressionSlack(bytes, o.compression) > limit - BATCH_OVERHEAD_BYTES) {
      if (batch.length === 0) batch.push(e);
      break;
    }
    used.set(e.record.topic, bytes);
    batch.push(e);
  }
  return batch;
}

/** The topics of the first `maxRecords` entries (at most 16): the limits the next batch needs. */
export function topicsAhead(queue: readonly Batchable[], maxRecords: number): Set<string> {
  const topics = new Set<string>();
  for (let i = 0; i < queue.length && topics.size < 16 && i < maxRecords; i++) topics.add(queue[i]!.record.topic);
  return topics;
}

/** The produce request for records, grouped by topic in order. */
export function topicMessages(records: readonly EncodedRecord[]): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages['messages']>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    const m: TopicMessages['messages'][number] = { key: r.key, value: r.value };
    if (r.headers) m.headers = r.headers;
    if (r.partition !== undefined) m.partition = r.partition;
    list.push(m);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
