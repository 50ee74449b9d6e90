import { randomUUID } from 'node:crypto';
import type { Admin, IHeaders, Kafka } from 'kafkajs';

/** A record as read back: raw key, value and headers (a header may be binary), and where it sits. */
export interface StoredRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  /** The first value of each header name (a null value reads as empty). */
  headers: Record<string, Buffer>;
  /** The names the record holds more than once, with all their values in order; undefined when none repeats. */
  repeated?: Record<string, Buffer[]> | undefined;
  timestamp: number;
}

/** A header as UTF-8 text, or undefined. */
export const headerText = (r: Pick<StoredRecord, 'headers'>, name: string): string | undefined =>
  r.headers[name]?.toString('utf8');

export interface ReadOptions {
  /** Group ids are `<groupPrefix>.read.<uuid>`: a group of its own that never commits. */
  groupPrefix: string;
  /** Only these partitions (default: all). */
  partitions?: readonly number[];
  /**
   * Where each partition starts (default: its beginning): given offsets per partition (a partition not in the
   * map starts at its beginning), or a function of its low and high watermarks. Never before the low watermark.
   */
  from?: ReadonlyMap<number, number> | ((partition: number, low: number, high: number) => number);
  /** Aborting rejects the read (with the signal's reason when it is an Error) and disconnects. */
  signal?: AbortSignal;
  /** How often the low watermarks are read, to end a partition that retention emptied meanwhile (default 10 s). */
  watermarkCheckMs?: number;
  /** Called once, before reading, with the end offset of each partition that has something to read. */
  onEnds?: (ends: ReadonlyMap<number, number>) => void | Promise<void>;
  /**
   * Called whenever a partition's position moves: after each batch handed over and for fetches that held only
   * transaction markers or aborted records. `offset` is the last offset the fetch covered.
   */
  onProgress?: (partition: number, offset: number) => void;
  /**
   * `onRecord` keeps nothing of the record object it is handed, and reads it before any await of its own (its key
   * and value Buffers it may keep): one object per batch is then filled in for each record instead of a new one
   * each (a ledger restore reads millions).
   */
  reuseRecord?: boolean;
}

/**
 * The one bounded reader: reads partitions of a topic up to the high watermarks captured before it starts, then
 * stops (the DLQ tools, `trace`, the ledger restore). Records written meanwhile, e.g. the dead letters of what
 * `dlq replay` re-publishes, are left alone. kafkajs has no manual assignment, so this is the only member of a
 * fresh group that never commits: it is given every partition and pauses those it does not need.
 *
 * A partition is done when a fetch reaches its captured end. An empty partition is done at once. A fetch that
 * holds nothing but transaction markers or aborted records never reaches eachBatch (kafkajs skips it and emits
 * only END_BATCH_PROCESS): that event counts too, or a topic that ends in a marker would be read for ever.
 * Resolves with the number of records handed over; `onRecord` may be async (it is awaited, in offset order per
 * partition).
 */
export async function readToEnd(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  onRecord: (r: StoredRecord) => void | Promise<void>,
  o: ReadOptions,
): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const ends = new Map<number, number>();
  const starts = new Map<number, number>();
  for (const p of o.partitions ?? offsets.map((x) => x.partition)) {
    const w = offsets.find((x) => x.partition === p);
    if (!w) throw new Error(`topic ${topic} has no partition ${p}`);
    const [low, high] = [Number(w.low), Number(w.high)];
    const wanted = typeof o.from === 'function' ? o.from(p, low, high) : o.from?.get(p);
    const start = Math.max(low, wanted ?? low);
    if (high > start) ends.set(p, high);
    if (start > low) starts.set(p, start);
  }
  if (o.signal?.aborted) throw abortError(o.signal, topic);
  await o.onEnds?.(new Map(ends));
  if (ends.size === 0) return 0;

  const consumer = kafka.consumer({
    groupId: `${o.groupPrefix}.read.${randomUUID()}`,
    sessionTimeout: 30_000,
    // The service consumer's fetch sizes: larger responses decode into more objects at once than the young
    // generation holds, and collecting them then cost more than the fewer fetches save (and peak RSS doubled).
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxBytes: 10 * 1024 * 1024,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
    retry: { retries: 5 },
  });
  let count = 0;
  let finish!: (err?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  const onAbort = () => finish(abortError(o.signal!, topic));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const reached = (partition: number, lastOffset: number, pause?: () => void) => {
    if (!Number.isFinite(lastOffset)) return;
    o.onProgress?.(partition, lastOffset);
    const end = ends.get(partition);
    if (end === undefined || lastOffset < end - 1) return;
    ends.delete(partition);
    pause?.();
    if (ends.size === 0) finish();
  };
  let watermarks: NodeJS.Timeout | undefined;
  /** Partitions whose low watermark passed their end have nothing left to read: they are done. */
  const gone = async () => {
    try {
      for (const w of await admin.fetchTopicOffsets(topic)) {
        const end = ends.get(w.partition);
        if (end !== undefined && Number(w.low) >= end) ends.delete(w.partition);
      }
      if (ends.size === 0) finish();
    } catch {
      // Asked again at the next check.
    }
  };
  consumer.on(consumer.events.CRASH, (e) =>
    finish(e.payload.error instanceof Error ? e.payload.error : new Error(String(e.payload.error))),
  );
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload: p }) => {
    if (p.topic === topic && p.batchSize === 0) reached(p.partition, Number(p.lastOffset));
  });
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
        const signal = o.signal;
        // One per batch: batches of several partitions may be handled at once (each awaits its own records in order).
        const reused: StoredRecord | undefined = o.reuseRecord
          ? { topic, partition: batch.partition, offset: 0, key: null, value: null, headers: NO_HEADERS, timestamp: 0 }
          : undefined;
        for (const m of batch.messages) {
          if (signal?.aborted) return;
          const offset = Number(m.offset);
          if (offset >= end) break;
          if (offset < start) continue;
          count++;
          let r: StoredRecord;
          if (reused) {
            r = reused;
            r.offset = offset;
            r.key = m.key;
            r.value = m.value;
            r.headers = rawHeaders(m.headers);
            r.repeated = r.headers === NO_HEADERS ? undefined : repeatedHeaders(m.headers);
            r.timestamp = Number(m.timestamp);
          } else {
            const headers = rawHeaders(m.headers);
            r = {
              topic,
              partition: batch.partition,
              offset,
              key: m.key,
              value: m.value,
              headers,
              repeated: headers === NO_HEADERS ? undefined : repeatedHeaders(m.headers),
              timestamp: Number(m.timestamp),
            };
          }
          // Awaited only when it returns a promise: a tick per record would cost more than reading it.
          const pending = onRecord(r);
          if (pending) await pending;
        }
        reached(batch.partition, Number(batch.lastOffset()), pause);
      },
    });
    for (const [partition, offset] of starts) consumer.seek({ topic, partition, offset: String(offset) });
    // Retention may delete what is left of a partition meanwhile: kafkajs then sees no batch of it, ever.
    watermarks = setInterval(() => void gone(), o.watermarkCheckMs ?? 10_000);
    await finished;
  } finally {
    clearInterval(watermarks);
    o.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
  }
  return count;
}

function abortError(signal: AbortSignal, topic: string): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(`reading ${topic} was abandoned`);
}

const NO_HEADERS: Record<string, Buffer> = Object.freeze({}) as Record<string, Buffer>;

const asBuffer = (v: unknown): Buffer =>
  v === null ? Buffer.alloc(0) : Buffer.isBuffer(v) ? v : Buffer.from(String(v));

/** StoredRecord.repeated: kafkajs hands a name the record holds more than once as the array of its values. */
export function repeatedHeaders(headers: IHeaders | undefined): Record<string, Buffer[]> | undefined {
  let out: [string, Buffer[]][] | undefined;
  for (const k in headers) {
    const v: unknown = headers[k];
    if (Array.isArray(v) && v.length > 1) (out ??= []).push([k, v.map(asBuffer)]);
  }
  return out && Object.fromEntries(out);
}

export function rawHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  let any = false;
  for (const _ in headers) {
    any = true;
    break;
  }
  if (!any) return NO_HEADERS;
  // Own properties from entries (a header named "__proto__" stays a header); a null value reads as empty.
  const out: [string, Buffer][] = [];
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first: unknown = Array.isArray(v) ? v[0] : v;
    if (first === undefined) continue;
    out.push([k, asBuffer(first)]);
  }
  return Object.fromEntries(out);
}
