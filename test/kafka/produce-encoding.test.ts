import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import '../../src/kafka/codecs.js';
import {
  encodeRecords,
  fastRequestV3,
  installProduceEncoding,
  kafkajsRequestV3,
  type ProduceRequestArgs,
} from '../../src/kafka/produce-encoding.js';

/**
 * The one-pass Produce encoder against kafkajs's own, byte for byte: every codec, null and empty keys and values,
 * Buffers, multi-byte UTF-8, long values (multi-byte varints), several partitions and topics, idempotent and
 * transactional fields. Messages it does not take (headers, timestamps) go to kafkajs's encoder unchanged.
 */
const { CompressionTypes } = kafkajs;
const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long.js') as { fromInt(n: number): unknown; fromValue(v: unknown): unknown };

let realNow: () => number;
beforeEach(() => {
  realNow = Date.now;
  Date.now = () => 1_764_000_000_123; // both encoders stamp the batch with Date.now()
});
afterEach(() => {
  Date.now = realNow;
});

const bytes = async (args: ProduceRequestArgs, encoder: (a: ProduceRequestArgs) => { encode(): Promise<unknown> }) =>
  ((await encoder(args).encode()) as { buffer: Buffer }).buffer;

const ledgerLike = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => ({
    key: `main\u00003\u0000user${i + offset}@example.com`,
    value: `{"v":2,"op":"add","occurredAt":${1_764_000_000_000 + i},"byService":false,"sentAt":1,"confirmedAt":2}`,
    partition: (i + offset) % 3,
  }));

const oddMessages = [
  { key: null, value: 'no key' },
  { key: '', value: '' },
  { key: 'k', value: null },
  { key: undefined, value: undefined },
  { key: Buffer.from([0, 1, 2, 255]), value: Buffer.alloc(300, 7) },
  { key: 'ünïcødé ✓ 𝄞', value: 'é'.repeat(70_000) },
  { key: 'headers, empty', value: 'v', headers: {} },
];

function args(topicData: ProduceRequestArgs['topicData'], extra: Partial<ProduceRequestArgs> = {}): ProduceRequestArgs {
  return { acks: -1, timeout: 30_000, topicData, ...extra };
}

const codecs: [string, number][] = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4],
  ['zstd', CompressionTypes.ZSTD],
];

describe('the one-pass Produce encoder', () => {
  for (const [name, compression] of codecs) {
    it(`writes what kafkajs writes (${name})`, async () => {
      const topicData = [
        {
          topic: 'events.ledger',
          partitions: [0, 1, 2].map((partition) => ({
            partition,
            messages: ledgerLike(200).filter((m) => m.partition === partition),
          })),
        },
        { topic: 'odd', partitions: [{ partition: 5, messages: oddMessages }] },
        { topic: 'empty', partitions: [{ partition: 0, messages: [] }] },
      ];
      const a = args(topicData, { compression });
      assert.deepEqual(await bytes(a, fastRequestV3), await bytes(a, kafkajsRequestV3()));
    });
  }

  it('writes what kafkajs writes for an idempotent and a transactional producer', async () => {
    const partitions = [{ partition: 2, firstSequence: 41, messages: ledgerLike(20) }];
    for (const extra of [
      { producerId: Long.fromValue(7_000_000_001), producerEpoch: 3 },
      { transactionalId: 'tx-1', producerId: Long.fromInt(12), producerEpoch: 1, compression: CompressionTypes.ZSTD },
    ]) {
      const a = args([{ topic: 't', partitions }], extra);
      assert.deepEqual(await bytes(a, fastRequestV3), await bytes(a, kafkajsRequestV3()));
    }
  });

  it('keeps the request fields kafkajs gives (api key, version, name, whether a response comes)', () => {
    const ours = fastRequestV3(args([]));
    const theirs = kafkajsRequestV3()(args([]));
    assert.deepEqual(
      [ours.apiKey, ours.apiVersion, ours.apiName, ours.expectResponse()],
      [theirs.apiKey, theirs.apiVersion, theirs.apiName, theirs.expectResponse()],
    );
    assert.equal(fastRequestV3(args([], { acks: 0 })).expectResponse(), false);
  });

  it('leaves a request with headers or timestamps to kafkajs', async () => {
    for (const m of [
      { key: 'k', value: 'v', headers: { code: 'X' } },
      { key: 'k', value: 'v', timestamp: '1764000000000' },
    ]) {
      const a = args([{ topic: 't', partitions: [{ partition: 0, messages: [...ledgerLike(3), m] }] }]);
      assert.deepEqual(await bytes(a, fastRequestV3), await bytes(a, kafkajsRequestV3()));
    }
  });

  it('sizes each record exactly (a wrong size throws instead of writing a bad batch)', () => {
    const out = encodeRecords(oddMessages);
    assert.ok(out.length > 140_000);
    assert.equal(encodeRecords([]).length, 0);
  });

  it('is installed in kafkajs for every Produce version that wraps v3', async () => {
    assert.equal(installProduceEncoding(), true);
    assert.equal(installProduceEncoding(), true, 'idempotent');
    const versions = require('kafkajs/src/protocol/requests/produce/index.js') as {
      protocol(o: { version: number }): (a: ProduceRequestArgs) => { request: { encode(): Promise<unknown> } };
    };
    const a = args([{ topic: 't', partitions: [{ partition: 0, messages: ledgerLike(10) }] }]);
    const expected = await bytes(a, kafkajsRequestV3());
    for (const version of [3, 4, 5, 6, 7]) {
      const request = versions.protocol({ version })(a).request;
      assert.equal(request.encode.toString(), fastRequestV3(a).encode.toString(), `v${version} uses it`);
      assert.deepEqual(((await request.encode()) as { buffer: Buffer }).buffer, expected);
    }
  });
});
