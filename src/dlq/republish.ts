import { DLQ_HEADERS } from './envelope.js';
import { REPLAYED_AT, REPLAYED_FROM } from './inspect.js';
import { headerText, type StoredRecord } from '../kafka/read-to-end.js';

/**
 * `dlq replay`, pure: which dead letters match, and the record that goes back to the source topic for each: the
 * same key and value, the source headers without any `dlq.` header, plus a trace of the replay, on the partition
 * the event was read from (so it queues behind the same contact's other changes whatever partitioner the original
 * producer used).
 */
export interface DeadLetterFilter {
  stage?: string;
  code?: string;
  /** Only dead letters written at or after this time (dlq.failed.at), epoch ms. */
  since?: number;
}

export function matches(r: StoredRecord, f: DeadLetterFilter): boolean {
  if (f.stage !== undefined && headerText(r, DLQ_HEADERS.stage) !== f.stage) return false;
  if (f.code !== undefined && headerText(r, DLQ_HEADERS.code) !== f.code) return false;
  if (f.since !== undefined) {
    const at = Date.parse(headerText(r, DLQ_HEADERS.failedAt) ?? '');
    if (!(at >= f.since)) return false;
  }
  return true;
}

export interface Republished {
  topic: string;
  /** The source partition; undefined when the header is missing (the producer's partitioner decides by key). */
  partition: number | undefined;
  key: Buffer | null;
  value: Buffer | null;
  /** A name the source record held more than once has all its values, in order (kafkajs writes each). */
  headers: Record<string, Buffer | string | Buffer[]>;
}

/** The record to re-publish, or a reason why it cannot be. */
export function republish(r: StoredRecord, now: number): Republished | { skip: string } {
  const topic = headerText(r, DLQ_HEADERS.topic);
  if (!topic) return { skip: `no ${DLQ_HEADERS.topic} header` };
  // A cut letter holds part of the event: re-publishing it would send garbage; its source position is in its headers.
  if (headerText(r, DLQ_HEADERS.truncated) !== undefined)
    return {
      skip:
        `cut to fit the dead-letter topic (${DLQ_HEADERS.truncated}); the source record is ` +
        `at ${topic}/${headerText(r, DLQ_HEADERS.partition) ?? '?'}@${headerText(r, DLQ_HEADERS.offset) ?? '?'}`,
    };
  const partition = Number(headerText(r, DLQ_HEADERS.partition));
  // Own properties from entries: a header named "__proto__" stays a header.
  const headers: Republished['headers'] = Object.fromEntries(
    Object.entries(r.headers)
      .filter(([k]) => !k.startsWith('dlq.'))
      .map(([k, v]) => [k, r.repeated && Object.hasOwn(r.repeated, k) ? r.repeated[k]! : v]),
  );
  headers[REPLAYED_AT] = new Date(now).toISOString();
  headers[REPLAYED_FROM] = `${r.topic}/${r.partition}@${r.offset}`;
  return {
    topic,
    partition: Number.isSafeInteger(partition) && partition >= 0 ? partition : undefined,
    key: r.key,
    value: r.value,
    headers,
  };
}
