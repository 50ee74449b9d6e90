import { randomUUID } from 'node:crypto';
import type { Admin, IHeaders, Kafka } from 'kafkajs';

/** A dead-letter record as read back: raw key, value and headers (a header may be binary), and where it sits. */
export interface StoredRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  timestamp: number;
}

/** A header as UTF-8 text, or undefined. */
export const headerText = (r: Pick<StoredRecord, 'headers'>, name: string): string | undefined => r.headers[name]?.toString('utf8');

/**
 * Reads a topic from its low watermarks up to the high watermarks captured before reading, then stops: records
 * written meanwhile (e.g. dead letters of what `dlq replay` just re-published) are left alone. kafkajs has no
 * manual assignment, so this is the only member of a fresh group that never commits. A partition is done when a
 * fetch reaches its end; a fetch of nothing but transaction markers counts too (kafkajs never hands it to
 * eachBatch), and an empty partition is done at once. Resolves with the number of records handed over.
 */
export async function readBounded(kafka: Kafka, admin: Admin, topic: string, groupPrefix: string, onRecord: (r: StoredRecord) => void | Promise<void>): Promise<number> {
  const marks = await admin.fetchTopicOffsets(topic);
  const ends = new Map<number, number>();
  for (const m of marks) if (Number(m.high) > Number(m.low)) ends.set(m.partition, Number(m.high));
  if (ends.size === 0) return 0;

  const consumer = kafka.consumer({ groupId: `${groupPrefix}-${randomUUID()}`, sessionTimeout: 30_000, maxWaitTimeInMs: 250, allowAutoTopicCreation: false, retry: { retries: 5 } });
  let count = 0;
  let finish!: (err?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  const reached = (partition: number, lastOffset: number, pause?: () => void) => {
    const end = ends.get(partition);
    if (end === undefined || lastOffset < end - 1) return;
    ends.delete(partition);
    pause?.();
    if (ends.size === 0) finish();
  };
  consumer.on(consumer.events.CRASH, (e) => finish(e.payload.error instanceof Error ? e.payload.error : new Error(String(e.payload.error))));
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload: p }) => {
    if (p.batchSize === 0) reached(p.partition, Number(p.lastOffset));
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, pause }) => {
        const end = ends.get(batch.partition);
        if (end === undefined) {
          pause();
          return;
        }
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= end) break;
          count++;
          await onRecord({ topic, partition: batch.partition, offset, key: m.key, value: m.value, headers: rawHeaders(m.headers), timestamp: Number(m.timestamp) });
        }
        reached(batch.partition, Number(batch.lastOffset()), pause);
      },
    });
    await finished;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return count;
}

function rawHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first : Buffer.from(String(first));
  }
  return out;
}
