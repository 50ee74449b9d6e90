import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { compressSync } from 'snappy';
import { compressionType, isXerial, snappyDecode, snappyEncode } from '../../src/kafka/codecs.js';

/**
 * The codecs registered in kafkajs: each round-trips, snappy reads both the raw form (librdkafka) and the xerial
 * framing (the Java client), and a batch that cannot be decompressed fails non-retriably, naming the codec.
 * test/integration/codecs.test.ts reads what librdkafka writes through a real broker.
 */
const { CompressionCodecs, CompressionTypes } = kafkajs;
const data = Buffer.from(
  Array.from({ length: 3_000 }, (_, i) => `{"eventId":"e${i}","op":"add","email":"user${i}@example.com"}`).join(''),
);

/** A xerial stream built by hand from the format: magic, version 1, compatible version 1, then length-prefixed raw blocks. */
function xerial(blocks: Buffer[]): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  return Buffer.concat([
    header,
    ...blocks.flatMap((b) => {
      const packed = compressSync(b);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(packed.length);
      return [length, packed];
    }),
  ]);
}

describe('compression codecs', () => {
  for (const [name, type] of [
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
    ['gzip', CompressionTypes.GZIP],
  ] as const) {
    it(`${name} round-trips through kafkajs's codec table and compresses`, async () => {
      const codec = CompressionCodecs[type]();
      const packed: Buffer = await codec.compress({ buffer: data });
      assert.ok(packed.length < data.length / 3, `${name}: ${packed.length} of ${data.length} bytes`);
      assert.ok((await codec.decompress(packed)).equals(data));
    });
  }

  it('snappy reads raw blocks (librdkafka) and the xerial framing of several blocks (the Java client)', () => {
    assert.ok(snappyDecode(compressSync(data)).equals(data));
    const framed = xerial([data.subarray(0, 40_000), data.subarray(40_000)]);
    assert.ok(isXerial(framed));
    assert.ok(snappyDecode(framed).equals(data));
    assert.ok(snappyDecode(xerial([])).equals(Buffer.alloc(0)), 'a header and no block is empty');
  });

  it('snappy writes the xerial framing, in blocks of 32 KiB', () => {
    const written = snappyEncode(data);
    assert.ok(isXerial(written));
    assert.ok(data.length > 2 * 32 * 1024, 'the sample spans several blocks');
    const firstBlock = written.readUInt32BE(16);
    assert.ok(compressSync(data.subarray(0, 32 * 1024)).equals(written.subarray(20, 20 + firstBlock)));
    assert.ok(snappyDecode(written).equals(data));
  });

  it('a batch that cannot be decompressed fails non-retriably, naming the codec', async () => {
    const cases = [
      [CompressionTypes.Snappy, Buffer.from('not snappy at all, not at all'), /snappy record batch/],
      [
        CompressionTypes.Snappy,
        xerial([data]).subarray(0, 100),
        /snappy record batch could not be decompressed: xerial snappy: a block of \d+ bytes runs past the end/,
      ],
      [CompressionTypes.LZ4, Buffer.from('not an lz4 frame'), /lz4 record batch/],
      [CompressionTypes.ZSTD, Buffer.from('not a zstd frame'), /zstd record batch/],
    ] as const;
    for (const [type, bytes, message] of cases) {
      await assert.rejects(CompressionCodecs[type]().decompress(bytes), (err: Error & { retriable?: boolean }) => {
        assert.match(err.message, message);
        assert.equal(err.retriable, false, 'kafkajs would otherwise retry the same fetch for ever');
        return true;
      });
    }
  });

  it('maps each kafka.compression value to its kafkajs type', () => {
    assert.deepEqual((['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const).map(compressionType), [
      CompressionTypes.None,
      CompressionTypes.GZIP,
      CompressionTypes.Snappy,
      CompressionTypes.LZ4,
      CompressionTypes.ZSTD,
    ]);
  });
});
