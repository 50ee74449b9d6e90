import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { TopicLimits, cutBatch, topicMessages } from '../../src/kafka/batches.js';
import {
  BATCH_OVERHEAD_BYTES,
  classifyWriteError,
  compressionSlack,
  recordBytes,
} from '../../src/kafka/record-size.js';
import { connectionError, protocolError } from '../support/fakes.js';

const entry = (topic: string, key: string, valueBytes: number) => {
  const record = { topic, key, value: Buffer.alloc(valueBytes) };
  return { record, bytes: recordBytes(record) };
};
const cut = (
  queue: ReturnType<typeof entry>[],
  limits: Record<string, number>,
  skip = (_: ReturnType<typeof entry>) => false,
) =>
  cutBatch(queue, new Map(Object.entries(limits)), {
    maxRecords: 100,
    compression: undefined,
    skip,
    fit: () => undefined,
  }).map((e) => e.record.key);

test('a batch keeps queue order and stops at the first record that does not fit its topic', () => {
  const q = [
    entry('a', '1', 400),
    entry('b', '2', 900),
    entry('a', '3', 400),
    entry('a', '4', 400),
    entry('b', '5', 10),
  ];
  const limit = BATCH_OVERHEAD_BYTES + recordBytes(q[0]!.record) * 2;
  assert.deepEqual(cut(q, { a: limit, b: 10_000 }), ['1', '2', '3']);
});

test('a record over the limit on its own goes alone; skipped records stay; an unknown topic ends the batch', () => {
  assert.deepEqual(cut([entry('a', 'big', 5_000), entry('a', 'x', 1)], { a: 1_000 }), ['big']);
  assert.deepEqual(cut([entry('a', 'x', 1), entry('a', 'big', 5_000)], { a: 1_000 }), ['x']);
  assert.deepEqual(
    cut([entry('a', 'k', 1), entry('a', 'j', 1)], { a: 1_000 }, (e) => e.record.key === 'k'),
    ['j'],
  );
  assert.deepEqual(cut([entry('a', 'x', 1), entry('z', 'y', 1), entry('a', 'w', 1)], { a: 1_000 }), ['x']);
});

test('record sizes are upper bounds of the v2 encoding, and compression leaves room for incompressible data', () => {
  assert.equal(recordBytes({ key: 'k', value: Buffer.alloc(100), headers: { h: 'v' } }), 40 + 1 + 100 + 10 + 2);
  assert.equal(compressionSlack(1_000_000, undefined), 0);
  assert.ok(compressionSlack(1_000_000, kafkajs.CompressionTypes.GZIP) >= 1_000);
  assert.ok(compressionSlack(600, kafkajs.CompressionTypes.Snappy) >= 100);
});

test('errors naming the records split a batch; the others are transient', () => {
  assert.deepEqual(classifyWriteError(protocolError('MESSAGE_TOO_LARGE')), {
    kind: 'record',
    tooLarge: true,
    type: 'MESSAGE_TOO_LARGE',
  });
  assert.equal(classifyWriteError(protocolError('INVALID_RECORD')).kind, 'record');
  assert.equal(classifyWriteError(protocolError('NOT_LEADER_FOR_PARTITION', true)).kind, 'transient');
  assert.equal(classifyWriteError(connectionError()).kind, 'transient');
  assert.equal(classifyWriteError(new Error('?')).kind, 'transient');
});

test('limits are read once per topic, with the fallback when they cannot be read', async () => {
  let reads = 0;
  const admin = {
    describeConfigs: async ({ resources }: { resources: { name: string }[] }) => {
      reads++;
      if (resources[0]!.name === 'denied') throw new Error('TOPIC_AUTHORIZATION_FAILED');
      return { resources: [{ configEntries: [{ configName: 'max.message.bytes', configValue: '2000' }] }] };
    },
  } as never;
  const unreadable: string[] = [];
  const limits = new TopicLimits(admin, 777, (topic) => unreadable.push(topic));
  assert.deepEqual(
    await Promise.all([limits.of('t'), limits.of('t'), limits.of('denied'), limits.of('denied')]),
    [2000, 2000, 777, 777],
  );
  assert.equal(reads, 2);
  assert.deepEqual(unreadable, ['denied']);
  assert.equal(await new TopicLimits(undefined, 555).of('t'), 555);
});

test('a produce request groups records by topic, in order, with partition and headers only when set', () => {
  assert.deepEqual(
    topicMessages([
      { topic: 'a', key: '1', value: 'x' },
      { topic: 'b', key: '2', value: 'y', partition: 3 },
      { topic: 'a', key: '3', value: 'z', headers: { h: 'v' } },
    ]),
    [
      {
        topic: 'a',
        messages: [
          { key: '1', value: 'x' },
          { key: '3', value: 'z', headers: { h: 'v' } },
        ],
      },
      { topic: 'b', messages: [{ key: '2', value: 'y', partition: 3 }] },
    ],
  );
});
