import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import kafkajs, { type CompressionTypes as CompressionType } from 'kafkajs';
import type { Config } from '../config/schema.js';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';

/**
 * The Kafka compression codecs kafkajs lacks (it decodes only gzip by itself), registered in its process-wide
 * `CompressionCodecs` when this module is first imported. Every entry point that reads Kafka imports it; a
 * missing native binding then stops the process at start-up instead of on the first compressed batch.
 *
 * - snappy: librdkafka writes raw snappy blocks, the Java client the xerial framing (a magic header, then
 *   length-prefixed raw blocks); both are read. Writes use the xerial framing, which every client reads.
 * - lz4: the LZ4 frame format (what Kafka has used since message format v1).
 * - zstd: plain zstd frames.
 *
 * A batch that fails to decompress fails the same way on every retry: the error is non-retriable, so the consumer
 * crashes (and the service exits) instead of retrying the same fetch for ever.
 */
// kafkajs is CommonJS, and Node cannot find these among its named exports.
const { CompressionCodecs, CompressionTypes, KafkaJSNonRetriableError } = kafkajs;

/** The codecs the service can write with (the `kafka.compression` setting). */
export type WriteCodec = Config['kafka']['compression'];

const TYPES: Record<WriteCodec, CompressionType> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** The kafkajs compression type to pass to send/sendBatch for a configured codec. */
export function compressionType(codec: WriteCodec): CompressionType {
  return TYPES[codec];
}

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** snappy-java's stream header: a magic, then the format version and the oldest compatible version (both 1). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = XERIAL_MAGIC.length + 8;
/** snappy-java's default block size. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

export function isXerial(buffer: Buffer): boolean {
  return buffer.length >= XERIAL_HEADER_BYTES && buffer.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/** Raw snappy, or the xerial framing: each block is a 4-byte big-endian length and a raw snappy block. */
export function snappyDecode(buffer: Buffer): Buffer {
  if (!isXerial(buffer)) return snappyUncompress(buffer, { asBuffer: true }) as Buffer;
  const blocks: Buffer[] = [];
  let at = XERIAL_HEADER_BYTES;
  while (at < buffer.length) {
    if (at + 4 > buffer.length) throw new Error('xerial snappy: truncated block length');
    const length = buffer.readUInt32BE(at);
    at += 4;
    if (at + length > buffer.length) throw new Error(`xerial snappy: a block of ${length} bytes runs past the end`);
    blocks.push(snappyUncompress(buffer.subarray(at, at + length), { asBuffer: true }) as Buffer);
    at += length;
  }
  return Buffer.concat(blocks);
}

export function snappyEncode(buffer: Buffer): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(1, XERIAL_MAGIC.length);
  header.writeInt32BE(1, XERIAL_MAGIC.length + 4);
  const parts: Buffer[] = [header];
  for (let at = 0; at < buffer.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappyCompress(buffer.subarray(at, at + XERIAL_BLOCK_BYTES));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

/** Wraps a decoder so its failure names the codec and does not make kafkajs retry the same batch for ever. */
function codec(
  name: string,
  compress: (data: Buffer) => Promise<Buffer> | Buffer,
  decompress: (data: Buffer) => Promise<Buffer> | Buffer,
): () => Codec {
  const impl: Codec = {
    compress: async (encoder) => compress(encoder.buffer),
    decompress: async (buffer) => {
      try {
        return await decompress(buffer);
      } catch (err) {
        throw new KafkaJSNonRetriableError(
          `a ${name} record batch could not be decompressed: ${(err as Error).message}`,
        );
      }
    },
  };
  return () => impl;
}

let registered = false;

/** Registers snappy, lz4 and zstd in kafkajs (idempotent); gzip is kafkajs's own. */
export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  CompressionCodecs[CompressionTypes.Snappy] = codec('snappy', snappyEncode, snappyDecode);
  CompressionCodecs[CompressionTypes.LZ4] = codec(
    'lz4',
    (data) => compressFrame(data),
    (data) => decompressFrame(data),
  );
  CompressionCodecs[CompressionTypes.ZSTD] = codec(
    'zstd',
    (data) => zstdCompress(data),
    (data) => zstdDecompress(data),
  );
}

registerCodecs();
