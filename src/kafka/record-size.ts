import kafkajs, { type Admin, type CompressionTypes } from 'kafkajs';

/** kafkajs is CommonJS: its enums come from the default export. */
const { CompressionTypes: Codecs, ConfigResourceTypes } = kafkajs;

/**
 * A header's value as kafkajs types it: a name that occurs more than once in a record comes as the array of its
 * values (and an array is sent as that many headers). A null value (librdkafka allows one) counts as 0 bytes.
 */
export type HeaderValue = Buffer | string | (Buffer | string)[];

/** One record as the acked writer sends it. No `partition`: the producer's partitioner picks one by key. */
export interface EncodedRecord {
  topic: string;
  partition?: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue>;
}

/** Kafka's default `max.message.bytes` of a topic (the broker's `message.max.bytes`): 1 MiB + 12 bytes. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * `max.message.bytes` bounds one record batch, the unit the broker stores per partition. A v2 batch header is
 * 61 bytes; 128 leaves room for it whatever the version.
 */
export const BATCH_OVERHEAD_BYTES = 128;

/**
 * A v2 record's own framing, every varint at its widest: length 5, attributes 1, timestamp delta 10, offset
 * delta 5, key length 5, value length 5, header count 5 (36), rounded up. Each header adds two lengths (10).
 */
const RECORD_OVERHEAD_BYTES = 40;
const HEADER_OVERHEAD_BYTES = 10;

const byteLength = (x: Buffer | string | null | undefined) =>
  x === null || x === undefined ? 0 : typeof x === 'string' ? Buffer.byteLength(x) : x.length;

/** An upper bound of the bytes a record takes in a record batch (uncompressed). */
export function recordBytes(r: Pick<EncodedRecord, 'key' | 'value' | 'headers'>): number {
  let bytes = RECORD_OVERHEAD_BYTES + byteLength(r.key) + byteLength(r.value);
  const headers = r.headers;
  if (headers)
    for (const name in headers) {
      const v = headers[name];
      const nameBytes = HEADER_OVERHEAD_BYTES + Buffer.byteLength(name);
      if (Array.isArray(v)) for (const one of v) bytes += nameBytes + byteLength(one);
      else bytes += nameBytes + byteLength(v);
    }
  return bytes;
}

/**
 * What compression may add to `bytes` of incompressible data, so a batch that fits uncompressed still fits
 * compressed: gzip's stored blocks add about 5 bytes per 16 KiB plus a header; snappy's worst case is a sixth.
 */
export function compressionSlack(bytes: number, compression: CompressionTypes | undefined): number {
  if (compression === undefined || compression === Codecs.None) return 0;
  if (compression === Codecs.GZIP) return Math.ceil(bytes / 1_000) + 64;
  return Math.ceil(bytes / 6) + 64;
}

/** The topic's `max.message.bytes` (the effective value, the broker's default included), or undefined. */
export async function readMaxMessageBytes(
  admin: Pick<Admin, 'describeConfigs'>,
  topic: string,
): Promise<number | undefined> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
  });
  const value = Number(
    described.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue,
  );
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Protocol errors that are about the records sent, not the broker's health. */
const RECORD_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'POLICY_VIOLATION',
  'INVALID_PARTITIONS',
]);
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

export interface WriteFailure {
  /**
   * `record`: some record of the batch is refused (split the batch to find it); `transient`:
   * the broker or the way to it.
   */
  kind: 'record' | 'transient';
  tooLarge: boolean;
  /** The kafkajs protocol error type, when there is one (bounded: a metric label). */
  type: string;
}

/**
 * kafkajs wraps the broker's answer (KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded around a
 * KafkaJSProtocolError): the whole `cause` chain is looked at. Anything not known to concern the records is
 * taken as transient; the writer still splits a batch that keeps failing, so a record refused with an unknown
 * error cannot block the others for ever.
 */
export function classifyWriteError(err: unknown): WriteFailure {
  let type = '';
  for (
    let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 8;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.type === 'string' && !type) type = e.type;
    if (typeof e.type === 'string' && RECORD_ERRORS.has(e.type))
      return { kind: 'record', tooLarge: TOO_LARGE.has(e.type), type: e.type };
  }
  return { kind: 'transient', tooLarge: false, type: type || 'UNKNOWN' };
}
