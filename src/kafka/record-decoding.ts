import { createRequire } from 'node:module';
import { KafkajsModule } from './kafkajs-module.js';

/**
 * kafkajs 2.2.4's record decoder (`recordBatch/record/v0/decoder.js`) with its headers gathered in linear time,
 * installed in kafkajs's module cache in its place. Everything else it returns is what kafkajs returns.
 *
 * Why: kafkajs folds a record's headers into an object by spreading the object so far at every header, which costs
 * the square of their count. One record of a few hundred KB holding tens of thousands of tiny headers (a poison
 * record) held the event loop for minutes: heartbeats stopped, the member was evicted, and the partition's next
 * owner met the same record. Its fold also read names such as "constructor" or "toString" from Object.prototype,
 * so a header with such a name came out as [a function, its value], which no writer can encode again (its dead
 * letter would never be written). Here a name repeated in the record has the array of its values, as in kafkajs,
 * and any other name has its value.
 */
const require = createRequire(import.meta.url);

interface Decoder {
  readInt8(): number;
  readVarLong(): unknown;
  readVarInt(): number;
  readVarIntBytes(): Buffer | null;
  readVarIntArray<T>(reader: (d: Decoder) => T): T[];
}
interface BatchContext {
  firstOffset?: unknown;
  firstTimestamp?: unknown;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: unknown;
}
type HeaderValue = Buffer | null;

const Long = require('kafkajs/src/utils/long.js') as {
  fromValue(v: unknown): { add(o: unknown): { toString(): string } };
};
const HeaderDecoder = require('kafkajs/src/protocol/recordBatch/header/v0/decoder.js') as (d: Decoder) => {
  key: string;
  value: HeaderValue;
};
const TimestampTypes = require('kafkajs/src/protocol/timestampTypes.js') as { LOG_APPEND_TIME: number };

type KafkajsDecoder = (d: Decoder, c?: BatchContext) => unknown;
const recordDecoder = new KafkajsModule<KafkajsDecoder>(
  'kafkajs/src/protocol/recordBatch/record/v0/decoder.js',
  // The module that captures the record decoder when it is loaded (on the first fetch).
  ['kafkajs/src/protocol/recordBatch/v0/decoder.js'],
  decodeRecord, // a function declaration below (hoisted)
);

/**
 * Installs the decoder (idempotent). Must run before kafkajs first fetches, when its batch decoder captures the
 * record decoder; answers false (kafkajs keeps its own) if that happened already or kafkajs is another version.
 */
export function installRecordDecoding(): boolean {
  return recordDecoder.install();
}

/** kafkajs's own record decoder (for the tests). */
export function kafkajsDecodeRecord(): KafkajsDecoder {
  return recordDecoder.kafkajs();
}

export function decodeRecord(decoder: Decoder, batchContext: BatchContext = {}) {
  const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
  const attributes = decoder.readInt8();
  const timestampDelta = decoder.readVarLong();
  const timestamp =
    timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : Long.fromValue(firstTimestamp).add(timestampDelta).toString();
  const offsetDelta = decoder.readVarInt();
  const offset = Long.fromValue(firstOffset).add(offsetDelta).toString();
  const key = decoder.readVarIntBytes();
  const value = decoder.readVarIntBytes();
  const headers = gatherHeaders(decoder.readVarIntArray(HeaderDecoder));
  return {
    magicByte,
    attributes,
    timestamp,
    offset,
    key,
    value,
    headers,
    isControlRecord: isControlBatch,
    batchContext,
  };
}

/** Names in first-appearance order; a repeated name has the array of its values (own names only, never inherited). */
export function gatherHeaders(
  list: readonly { key: string; value: HeaderValue }[],
): Record<string, HeaderValue | HeaderValue[]> {
  const byName = new Map<string, HeaderValue | HeaderValue[]>();
  const repeated = new Set<string>();
  for (const { key, value } of list) {
    if (!byName.has(key)) {
      byName.set(key, value);
      continue;
    }
    const before = byName.get(key)!;
    if (repeated.has(key)) (before as HeaderValue[]).push(value);
    else {
      repeated.add(key);
      byName.set(key, [before as HeaderValue, value]);
    }
  }
  // fromEntries defines own properties: a header named "__proto__" stays a header.
  return Object.fromEntries(byName);
}
