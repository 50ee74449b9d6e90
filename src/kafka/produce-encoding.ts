import { createRequire } from 'node:module';
import { KafkajsModule } from './kafkajs-module.js';

/**
 * The Produce request (versions 3 to 7) encoded in one pass, byte for byte what kafkajs 2.2.4 writes, installed in
 * kafkajs's module cache in place of its own `produce/v3/request.js` (versions 4 to 7 wrap that one).
 *
 * Why: kafkajs encodes each record into an encoder of its own, every varint through an array and a Buffer, and
 * copies every record once more into the batch. For the ledger, which writes a record for every confirmed change,
 * that was about 9 µs of CPU per record, more than the raw consumer spends reading an event. Here a partition's
 * records are sized first and written into one Buffer.
 *
 * Only plain messages take this path: a key and a value that are each a string, a Buffer, null or absent, no
 * headers and no timestamp (what the ledger and the consent topic write). A request holding any other message is
 * encoded by kafkajs's own function, as before. The batch header, the compression codec, the CRC and the framing
 * around the records are kafkajs's own parts (its Encoder, codecs and crc32C), so only the record bytes are ours;
 * test/kafka/produce-encoding.test.ts compares the two encoders' bytes.
 */

// kafkajs is CommonJS; its protocol modules are not part of its public exports, so they are loaded by path.
const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  writeInt8(v: number): KafkajsEncoder;
  writeInt16(v: number): KafkajsEncoder;
  writeInt32(v: number): KafkajsEncoder;
  writeUInt32(v: number): KafkajsEncoder;
  writeInt64(v: unknown): KafkajsEncoder;
  writeString(v: string | null): KafkajsEncoder;
  writeBytes(v: Buffer): KafkajsEncoder;
  writeBuffer(v: Buffer): KafkajsEncoder;
  writeEncoder(v: KafkajsEncoder): KafkajsEncoder;
  size(): number;
  readonly buffer: Buffer;
}
type EncoderClass = new (initialSize?: number) => KafkajsEncoder;

interface Message {
  key?: unknown;
  value?: unknown;
  headers?: unknown;
  timestamp?: unknown;
}
interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: Message[];
}
interface TopicData {
  topic: string;
  partitions: PartitionData[];
}
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}
interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse(): boolean;
  encode(): Promise<KafkajsEncoder>;
}
type RequestV3 = (args: ProduceRequestArgs) => ProduceRequest;

const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass;
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown };
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const { Types, lookupCodec, COMPRESSION_CODEC_MASK } = require('kafkajs/src/protocol/message/compression/index.js') as {
  Types: { None: number };
  lookupCodec(type: number): { compress(e: KafkajsEncoder): Promise<Buffer> } | null;
  COMPRESSION_CODEC_MASK: number;
};
const { Produce: API_KEY } = require('kafkajs/src/protocol/requests/apiKeys.js') as { Produce: number };

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;

const v3 = new KafkajsModule<RequestV3>(
  'kafkajs/src/protocol/requests/produce/v3/request.js',
  [4, 5, 6, 7].map((v) => `kafkajs/src/protocol/requests/produce/v${v}/request.js`),
  fastRequestV3, // a function declaration below (hoisted)
);

/**
 * Installs the encoder (idempotent). Must run before kafkajs first produces: its later versions capture the v3
 * function when they are first loaded. Answers false (kafkajs keeps its own) if one already was, or kafkajs is
 * another version than the one this reproduces.
 */
export function installProduceEncoding(): boolean {
  return v3.install();
}

/** kafkajs's own encoder (for the tests and for requests this one leaves to it). */
export function kafkajsRequestV3(): RequestV3 {
  return v3.kafkajs();
}

export function fastRequestV3(args: ProduceRequestArgs): ProduceRequest {
  if (!args.topicData.every((t) => t.partitions.every((p) => p.messages.every(plain)))) return kafkajsRequestV3()(args);
  const { acks, timeout, topicData } = args;
  const transactionalId = args.transactionalId ?? null;
  const producerId = args.producerId ?? Long.fromInt(-1);
  const producerEpoch = args.producerEpoch ?? 0;
  const compression = args.compression ?? Types.None;
  return {
    apiKey: API_KEY,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const topics: KafkajsEncoder[] = [];
      for (const t of topicData) {
        const partitions: KafkajsEncoder[] = [];
        for (const p of t.partitions) {
          const batch = await recordBatch(p, compression, producerId, producerEpoch, !!transactionalId);
          partitions.push(new Encoder().writeInt32(p.partition).writeInt32(batch.size()).writeEncoder(batch));
        }
        topics.push(concatArray(new Encoder().writeString(t.topic), partitions));
      }
      return concatArray(new Encoder().writeString(transactionalId).writeInt16(acks).writeInt32(timeout), topics);
    },
  };
}

/** A key or value kafkajs would write as its bytes; no headers, no timestamp of its own. */
function plain(m: Message): boolean {
  if (m.timestamp != null) return false;
  if (m.headers != null && (typeof m.headers !== 'object' || Object.keys(m.headers).length > 0)) return false;
  return bytesLike(m.key) && bytesLike(m.value);
}

const bytesLike = (v: unknown) => v == null || typeof v === 'string' || Buffer.isBuffer(v);

/** kafkajs's writeArray of encoders: the count, then each one's bytes. */
function concatArray(head: KafkajsEncoder, items: KafkajsEncoder[]): KafkajsEncoder {
  head.writeInt32(items.length);
  for (const e of items) head.writeEncoder(e);
  return head;
}

/** The record batch of one partition, as kafkajs's RecordBatch (v0, magic 2) frames it. */
async function recordBatch(
  p: PartitionData,
  compression: number,
  producerId: unknown,
  producerEpoch: number,
  transactional: boolean,
): Promise<KafkajsEncoder> {
  // With no message timestamps kafkajs stamps the batch with one Date.now(): every delta is 0.
  const now = Date.now();
  const records = encodeRecords(p.messages);
  const attributes = (compression & COMPRESSION_CODEC_MASK) | (transactional ? TRANSACTIONAL_MASK : 0);
  const body = new Encoder(records.length + 64)
    .writeInt16(attributes)
    .writeInt32(p.messages.length - 1)
    .writeInt64(now)
    .writeInt64(now)
    .writeInt64(producerId)
    .writeInt16(producerEpoch)
    .writeInt32(p.firstSequence ?? 0)
    .writeInt32(p.messages.length);
  if (compression === Types.None) body.writeBuffer(records);
  else {
    const codec = lookupCodec(compression);
    if (!codec) throw new Error(`no kafkajs codec for compression type ${compression}`);
    body.writeBuffer(await codec.compress(new Encoder(records.length).writeBuffer(records)));
  }
  const batch = new Encoder(body.size() + 9)
    .writeInt32(0) // partitionLeaderEpoch
    .writeInt8(MAGIC_BYTE)
    .writeUInt32(crc32C(body.buffer))
    .writeEncoder(body);
  return new Encoder(batch.size() + 12).writeInt64(Long.fromInt(0)).writeBytes(batch.buffer);
}

/**
 * Every record of a partition in one Buffer. A record: its length (varint), attributes (0), timestamp delta
 * (varlong 0), offset delta (varint), key and value (varint length, -1 for null, then the bytes), headers (varint 0).
 */
export function encodeRecords(messages: readonly Message[]): Buffer {
  const n = messages.length;
  const keyLengths = new Int32Array(n);
  const valueLengths = new Int32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    const k = byteLength(m.key);
    const v = byteLength(m.value);
    keyLengths[i] = k;
    valueLengths[i] = v;
    const body = bodySize(i, k, v);
    total += varIntSize(body) + body;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    const k = keyLengths[i]!;
    const v = valueLengths[i]!;
    at = writeVarInt(out, at, bodySize(i, k, v));
    out[at++] = 0; // attributes
    out[at++] = 0; // timestamp delta: varlong 0
    at = writeVarInt(out, at, i);
    at = writeBytes(out, at, m.key, k);
    at = writeBytes(out, at, m.value, v);
    out[at++] = 0; // no headers: varint 0
  }
  if (at !== total) throw new Error(`record encoding wrote ${at} of ${total} bytes`);
  return out;
}

/** Attributes, timestamp delta, offset delta, key, value, header count. */
function bodySize(offsetDelta: number, key: number, value: number): number {
  return 1 + 1 + varIntSize(offsetDelta) + bytesSize(key) + bytesSize(value) + 1;
}

const byteLength = (v: unknown): number =>
  v == null ? -1 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : (v as Buffer).length;

const bytesSize = (length: number) => (length < 0 ? 1 : varIntSize(length) + length);

function writeBytes(out: Buffer, at: number, v: unknown, length: number): number {
  if (length < 0) return writeVarInt(out, at, -1);
  at = writeVarInt(out, at, length);
  if (typeof v === 'string') out.write(v, at, length, 'utf8');
  else (v as Buffer).copy(out, at);
  return at + length;
}

/** The size of a zigzag varint of a 32-bit integer. */
function varIntSize(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (v >= 0x80) {
    bytes++;
    v >>>= 7;
  }
  return bytes;
}

function writeVarInt(out: Buffer, at: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}
