import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';

export type OnLedgerRecord = (partition: number, key: string, value: Buffer | null, timestamp: number) => void;

/**
 * Reads partitions of a (ledger) topic from their beginning up to the end offsets they have now, then stops.
 *
 * kafkajs has no manual assignment, so this is a consumer of its own group (a fresh id that never commits), the
 * group's only member: it is given every partition and pauses those it does not need. The end is judged by the
 * high watermarks captured before it starts, not by batches arriving: an empty partition is done at once, and a
 * partition is done when a batch reaches its last offset. Records at or past the captured end are left alone
 * (they are writes this member makes after the restore began, already in memory).
 */
export async function readToEnd(kafka: Kafka, admin: Admin, topic: string, partitions: readonly number[], onRecord: OnLedgerRecord, signal: AbortSignal, groupPrefix: string): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const ends = new Map<number, number>();
  for (const p of partitions) {
    const o = offsets.find((x) => x.partition === p);
    if (!o) throw new Error(`topic ${topic} has no partition ${p}`);
    if (Number(o.high) > Number(o.low)) ends.set(p, Number(o.high));
  }
  if (ends.size === 0 || signal.aborted) return;

  const consumer = kafka.consumer({
    groupId: `${groupPrefix}.restore.${randomUUID()}`,
    sessionTimeout: 30_000,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
    retry: { retries: 5 },
  });
  let finish!: (err?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  const onAbort = () => finish(new Error(`reading ${topic} was abandoned (timeout or revocation)`));
  signal.addEventListener('abort', onAbort, { once: true });
  const { CRASH } = consumer.events;
  consumer.on(CRASH, (e) => finish(e.payload.error instanceof Error ? e.payload.error : new Error(String(e.payload.error))));
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
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= end) break;
          onRecord(batch.partition, m.key ? m.key.toString('utf8') : '', m.value, Number(m.timestamp));
        }
        if (Number(batch.lastOffset()) >= end - 1) {
          ends.delete(batch.partition);
          pause();
          if (ends.size === 0) finish();
        }
      },
    });
    await finished;
  } finally {
    signal.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
  }
}
