import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { DLQ_HEADERS, type DeadLetter } from '../../src/dlq/envelope.js';
import { DeadLetterProducer } from '../../src/dlq/producer.js';
import { WriterClosedError } from '../../src/kafka/acked-writer.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { quietLog, uniqueTopic } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The acked writer against the real broker, with its default limits (max.message.bytes 1,048,588): large dead
 * letters are all written, in batches the broker accepts; a record the broker refuses for ever does not stop
 * the others, and is counted and shown stuck.
 */
const w = world({ simulator: false });
const writerProducer = () => w.producer({ allowAutoTopicCreation: false });

const letter = (source: string, offset: number, valueBytes: number): DeadLetter => ({
  message: {
    topic: source,
    partition: 0,
    offset,
    key: Buffer.from(`p${offset}`),
    value: Buffer.alloc(valueBytes, 0x61 + (offset % 26)),
    headers: {},
    timestamp: Date.now(),
  },
  exportName: undefined,
  stage: 'decode',
  code: 'TOO_LARGE',
  reason: 'over ingest.maxEventBytes',
  attempts: 1,
});

test('letters of 300 KB, 900 KB and 1,040,000 bytes, and 50 of 100 KB in a row, among small ones, are all written whole; one over the limit is written cut', async () => {
  const source = await w.topic('big-letters', 1, '.dlq');
  const metrics = createMetrics();
  const dlq = new DeadLetterProducer(await writerProducer(), '{topic}.dlq', metrics, quietLog(), { admin: w.admin });
  const sizes = [
    200,
    300_000,
    150,
    900_000,
    1_040_000,
    120,
    ...Array.from({ length: 50 }, () => 100_000),
    180,
    1_100_000,
    90,
  ];
  await Promise.all(sizes.map((bytes, offset) => dlq.write(letter(source, offset, bytes))));
  assert.deepEqual(await dlq.close(10_000), { unwritten: 0 });

  const stored = await w.deadLetters(source, sizes.length);
  assert.equal(stored.length, sizes.length);
  const byOffset = new Map(stored.map((r) => [Number(r.headers[DLQ_HEADERS.offset]), r]));
  sizes.forEach((bytes, offset) => {
    const r = byOffset.get(offset);
    assert.ok(r, `letter of offset ${offset} written`);
    if (bytes === 1_100_000) {
      assert.equal(r.headers[DLQ_HEADERS.truncated], 'value');
      assert.equal(r.headers[DLQ_HEADERS.valueBytes], '1100000');
      assert.ok(r.value!.length > 1_040_000 && r.value!.length < 1_048_588, `cut to ${r.value!.length}`);
    } else {
      assert.equal(r.value?.length, bytes, `letter of offset ${offset} whole`);
      assert.equal(r.headers[DLQ_HEADERS.truncated], undefined);
    }
  });
  const batches = (await metrics.writerBatches.get()).values;
  assert.equal(
    batches.find((v) => v.labels.result === 'failed')?.value ?? 0,
    0,
    'no request was refused: every batch fitted',
  );
  assert.equal((await metrics.writerShrunk.get()).values[0]?.value, 1);
});

test('a record the broker refuses for ever does not stop the others; it is counted, shown stuck, and reported unwritten at close', async () => {
  const topic = uniqueTopic('small-limit');
  await w.admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '5000' }] },
    ],
  });
  const metrics = createMetrics();
  const ledger = new LedgerWriter(await writerProducer(), metrics, quietLog(), { admin: w.admin });
  const huge = ledger.write({ topic, partition: 0, key: 'huge', value: 'x'.repeat(20_000) });
  const settled = huge.then(
    () => 'written',
    (err: unknown) => err,
  );
  const others = Array.from({ length: 40 }, (_, i) =>
    ledger.write({ topic, partition: i % 2, key: `k${i}`, value: 'y'.repeat(400) }),
  );
  await Promise.all(others);
  const stored = await w.read(topic, 40);
  assert.deepEqual(stored.map((r) => r.key).sort(), Array.from({ length: 40 }, (_, i) => `k${i}`).sort());
  assert.equal(ledger.writer.stuckRecords, 1);
  assert.equal((await metrics.writerStuck.get()).values.find((v) => v.labels.writer === 'ledger')?.value, 1);
  assert.equal(
    (await metrics.writerRefused.get()).values.find(
      (v) => v.labels.writer === 'ledger' && v.labels.reason === 'too_large',
    )?.value,
    1,
  );
  // Still refused, still retried (not given up) until close.
  await ledger.writer.whenIdle();
  assert.deepEqual(await ledger.close(500), { unwritten: 1 });
  assert.ok((await settled) instanceof WriterClosedError);
});

test('compressed batches are written and counted under the limit (gzip)', async () => {
  const source = await w.topic('gzip-letters', 1, '.dlq');
  const metrics = createMetrics();
  const dlq = new DeadLetterProducer(await writerProducer(), '{topic}.dlq', metrics, quietLog(), {
    admin: w.admin,
    compression: kafkajs.CompressionTypes.GZIP,
  });
  await Promise.all(Array.from({ length: 20 }, (_, i) => dlq.write(letter(source, i, 200_000))));
  await dlq.close(1_000);
  assert.equal((await w.deadLetters(source, 20)).length, 20);
  assert.ok(
    ((await metrics.writerBatches.get()).values.find((v) => v.labels.result === 'written')?.value ?? 0) >= 4,
    'at most five 200 kB letters per request',
  );
});
