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
 *
 * It is also cheaper per record, which a ledger restore of millions of records feels: offsets and timestamps are
 * summed as numbers where kafkajs parses BigInts (basesOf below), and a record without headers skips the gathering.
 */
const require = createRequire(import.meta.url);

interface Decoder {
  buffer: Buffer;
  offset: number;
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
  const bases = basesOf(batchContext);
  const attributes = decoder.readInt8();
  const small = smallVarLong(decoder);
  const timestampDelta = small === undefined ? decoder.readVarLong() : small;
  let timestamp: unknown;
  if (timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp) timestamp = maxTimestamp;
  else if (small !== undefined && bases.timestamp !== undefined && Number.isSafeInteger(bases.timestamp + small))
    timestamp = String(bases.timestamp + small);
  else timestamp = Long.fromValue(firstTimestamp).add(timestampDelta).toString();
  const offsetDelta = decoder.readVarInt();
  const offset =
    bases.offset !== undefined && Number.isSafeInteger(bases.offset + offsetDelta)
      ? String(bases.offset + offsetDelta)
      : Long.fromValue(firstOffset).add(offsetDelta).toString();
  const key = decoder.readVarIntBytes();
  const value = decoder.readVarIntBytes();
  const list = decoder.readVarIntArray(HeaderDecoder);
  const headers = list.length === 0 ? {} : gatherHeaders(list);
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

/*
 * kafkajs adds each record's deltas to its batch's first offset and first timestamp as BigInts parsed from their
 * strings, for every record (two parses and two formats each; kafkajs's Batch parses the offset once more to filter
 * it, which stays). Here the bases are
 * parsed once per batch, and a sum that is a safe integer is formatted as a number, which is the same text: the
 * records of a batch are decoded one after another, so remembering the last batch's bases is enough.
 */
interface Bases {
  offset: number | undefined;
  timestamp: number | undefined;
}
let lastContext: BatchContext | undefined;
let lastBases: Bases = { offset: undefined, timestamp: undefined };

function basesOf(context: BatchContext): Bases {
  if (context !== lastContext) {
    lastContext = context;
    lastBases = { offset: safeInteger(context.firstOffset), timestamp: safeInteger(context.firstTimestamp) };
  }
  return lastBases;
}

/** A batch's int64 field as kafkajs hands it (its decimal string), when it is a safe integer. */
function safeInteger(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && String(n) === v ? n : undefined;
}

/**
 * A zigzag varlong of at most 7 bytes (49 bits: every timestamp delta a producer writes in practice) read as a
 * number, the decoder moved past it; otherwise undefined and the decoder where it was (kafkajs's readVarLong then
 * reads it as a Long).
 */
function smallVarLong(d: Decoder): number | undefined {
  const b = d.buffer;
  let at = d.offset;
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    const byte = b[at++];
    if (byte === undefined) return undefined;
    v += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      d.offset = at;
      return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    }
    scale *= 128;
  }
  return undefined;
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
