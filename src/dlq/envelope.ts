import { createHash } from 'node:crypto';
import type { Stage } from '../domain/errors.js';
import type { SourceMessage } from '../ingest/source.js';
import { recordBytes, type HeaderValue } from '../kafka/record-size.js';

/**
 * A dead-letter record: the source key, value and headers unchanged, plus the headers below
 * (schemas/dead-letter-headers.json describes them). Values are UTF-8 strings.
 */
export const DLQ_HEADERS = {
  topic: 'dlq.source.topic',
  partition: 'dlq.source.partition',
  offset: 'dlq.source.offset',
  timestamp: 'dlq.source.timestamp',
  export: 'dlq.export',
  stage: 'dlq.stage',
  code: 'dlq.error.code',
  message: 'dlq.error.message',
  attempts: 'dlq.attempts',
  failedAt: 'dlq.failed.at',
  /** Set when the letter was cut to fit the topic's max.message.bytes: what was cut (value, headers, key). */
  truncated: 'dlq.truncated',
  valueBytes: 'dlq.original.value.bytes',
  valueSha256: 'dlq.original.value.sha256',
  keyBytes: 'dlq.original.key.bytes',
  droppedHeaders: 'dlq.dropped.headers',
  /** How many source header values were null (librdkafka allows one): the letter holds them as empty values. */
  nullHeaders: 'dlq.null.headers',
} as const;

export interface DeadLetter {
  message: SourceMessage;
  exportName: string | undefined;
  stage: Stage;
  code: string;
  reason: string;
  attempts: number;
}

export interface OutgoingRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, HeaderValue>;
  timestamp?: string;
}

export function toDeadLetterRecord(d: DeadLetter, now: number): OutgoingRecord {
  let nulls = 0;
  const orEmpty = (v: Buffer | string | null) => {
    if (v !== null) return v;
    nulls++;
    return EMPTY;
  };
  // Own properties from entries: a header named "__proto__" stays a header. A null value, which kafkajs's encoder
  // cannot write (it would leave the letter unwritable and its offset held), goes as an empty one, counted.
  const headers: Record<string, HeaderValue> = Object.fromEntries(
    Object.entries(d.message.headers)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, Array.isArray(v) ? v.map(orEmpty) : orEmpty(v as Buffer | string | null)]),
  );
  if (nulls) headers[DLQ_HEADERS.nullHeaders] = String(nulls);
  headers[DLQ_HEADERS.topic] = d.message.topic;
  headers[DLQ_HEADERS.partition] = String(d.message.partition);
  headers[DLQ_HEADERS.offset] = String(d.message.offset);
  headers[DLQ_HEADERS.timestamp] = isoTime(d.message.timestamp);
  if (d.exportName) headers[DLQ_HEADERS.export] = d.exportName;
  headers[DLQ_HEADERS.stage] = d.stage;
  headers[DLQ_HEADERS.code] = d.code;
  headers[DLQ_HEADERS.message] = d.reason.slice(0, 1000);
  headers[DLQ_HEADERS.attempts] = String(d.attempts);
  headers[DLQ_HEADERS.failedAt] = new Date(now).toISOString();
  return { key: d.message.key, value: d.message.value, headers };
}

const EMPTY = Buffer.alloc(0);

export function dlqTopicFor(topic: string, template: string): string {
  return template.replace('{topic}', topic);
}

/**
 * A letter over `limitBytes` (as recordBytes() counts), cut so it fits: the value first, then the source headers,
 * then the key. The dlq.* headers stay, so its source position is never lost, and say what was cut, with the
 * original value's size and sha256 (to find or check the source record). `dlq replay` does not re-publish it.
 */
export function shrinkDeadLetterRecord(r: OutgoingRecord, limitBytes: number): OutgoingRecord {
  const value = r.value ?? Buffer.alloc(0);
  const cut = ['value'];
  let headers: Record<string, HeaderValue> = {
    ...r.headers,
    [DLQ_HEADERS.valueBytes]: String(value.length),
    [DLQ_HEADERS.valueSha256]: createHash('sha256').update(value).digest('hex'),
  };
  let key = r.key;
  const fixed = () =>
    recordBytes({
      key,
      value: null,
      headers: { ...headers, [DLQ_HEADERS.truncated]: [...cut, 'headers', 'key'].join(',') },
    });
  if (fixed() > limitBytes) {
    const source = Object.keys(headers).filter((k) => !k.startsWith('dlq.'));
    headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('dlq.')));
    if (source.length) {
      headers[DLQ_HEADERS.droppedHeaders] = String(source.length);
      cut.push('headers');
    }
  }
  if (key && fixed() > limitBytes) {
    headers[DLQ_HEADERS.keyBytes] = String(key.length);
    key = key.subarray(0, Math.max(0, key.length - (fixed() - limitBytes)));
    cut.push('key');
  }
  headers[DLQ_HEADERS.truncated] = cut.join(',');
  const room = Math.max(0, limitBytes - recordBytes({ key, value: null, headers }));
  return { key, value: value.subarray(0, room), headers };
}

/** A Kafka timestamp as ISO 8601; one outside what a Date holds (a producer's garbage) as its number. */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}
