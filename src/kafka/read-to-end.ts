import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

export interface ReadOptions {
  /** Group ids are `<groupPrefix>.read.<uuid>`: a group of its own that never commits. */
  groupPrefix: string;
  /** Only these partitions (default: all). */
  partitions?: readonly number[];
  /** Where each partition starts (default: its beginning), given its low and high watermarks. */
  from?: (partition: number, low: number, high: number) => number;
  signal?: AbortSignal;
}

/**
 * Reads partitions of a topic up to the end offsets they have now, then stops: for restoring the ledger and for
 * `trace`. kafkajs has no manual assignment, so this is a consumer of its own group, that group's only member:
 * it is given every partition and pauses those it does not need. The end is judged by the high watermarks
 * captured before it starts, not by batches arriving: an empty partition is done at once, and a partition is
 * done when a batch reaches its last offset. Records at or past the captured end are left alone.
 */
export async function readToEnd(kafka: Kafka, admin: Admin, topic: string, onMessage: (partition: number, message: KafkaMessage) => void, o: ReadOptions): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const ends = new Map<number, number>();
  const starts = new Map<number, number>();
  for (const p of o.partitions ?? offsets.map((x) => x.partition)) {
    const w = offsets.find((x) => x.partition === p);
    if (!w) throw new Error(`topic ${topic} has no partition ${p}`);
    const [low, high] = [Number(w.low), Number(w.high)];
    const start = Math.max(low, o.from?.(p, low, high) ?? low);
    if (high > start) ends.set(p, high);
    if (start > low) starts.set(p, start);
  }
  if (ends.size === 0 || o.signal?.aborted) return;

  const consumer = kafka.consumer({
    groupId: `${o.groupPrefix}.read.${randomUUID()}`,
    sessionTimeout: 30_000,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
    retry: { retries: 5 },
  });
  let finish!: (err?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  const onAbort = () => finish(new Error(`reading ${topic} was abandoned`));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  consumer.on(consumer.events.CRASH, (e) => finish(e.payload.error instanceof Error ? e.payload.error : new Error(String(e.payload.error))));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, pause }) => {
        const end = ends.get(batch.partition);
        if (end === undefined) {
          pause();
          return;
        }
        const start = starts.get(batch.partition) ?? 0;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= end) break;
          if (offset >= start) onMessage(batch.partition, m);
        }
        if (Number(batch.lastOffset()) >= end - 1) {
          ends.delete(batch.partition);
          pause();
          if (ends.size === 0) finish();
        }
      },
    });
    for (const [partition, offset] of starts) consumer.seek({ topic, partition, offset: String(offset) });
    await finished;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
  }
}
