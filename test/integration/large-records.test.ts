import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { createTopic, eventually, kafka, offsetsCaughtUp, quietLog, startService, startSimulator, testConfig, uniqueTopic, type Simulator } from '../support/harness.js';
import { readTopic } from '../support/harness.js';

/**
 * Issue 12: one large record stopped everything. A partition's letters went to the dead-letter topic in one
 * request over the broker's limit, retried for ever, and every commit behind them stalled. Here, on one
 * partition with the broker's default limits, records of 300 KB, 900 KB and 1,040,000 bytes and 50 records of
 * 100 KB in a row sit among normal events: every large one is dead-lettered (TOO_LARGE, over
 * ingest.maxEventBytes), the normal ones are delivered, and the service settles to the end offset.
 */
const segments = ['vip'];
const admin = kafka().admin();
let sim: Simulator;

before(async () => {
  await admin.connect();
  sim = await startSimulator({ timeScale: 20, lists: [{ id: '1', name: 'VIP' }] });
});
after(async () => {
  await sim.close();
  await admin.disconnect();
});

const good = (i: number) => JSON.stringify({ eventId: `g${i}`, occurredAt: new Date(Date.parse('2026-11-28T10:00:00Z') + i).toISOString(), segmentId: 'vip', op: 'add', profile: { id: `p${i}`, email: `good${i}@example.com` } });
/** A syntactically valid event padded to `bytes` with an attribute: only its size is wrong. */
const large = (i: number, bytes: number) => {
  const head = JSON.stringify({ eventId: `big${i}`, occurredAt: '2026-11-28T10:00:00Z', segmentId: 'vip', op: 'add', profile: { id: `b${i}`, email: `big${i}@example.com`, attributes: { pad: '' } } });
  return Buffer.from(head.replace('"pad":""', `"pad":"${'x'.repeat(bytes - head.length)}"`));
};

test('records of 300 KB, 900 KB and 1,040,000 bytes and 50 of 100 KB in a row are all dead-lettered, and the service settles to the end', async () => {
  const topic = uniqueTopic('large');
  await createTopic(admin, topic, 1);
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const sizes = [300_000, 900_000, 1_040_000, ...Array.from({ length: 50 }, () => 100_000)];
  let n = 0;
  const goods = async (count: number) => {
    await producer.send({ topic, messages: Array.from({ length: count }, () => ({ key: `p${n}`, value: good(n++) })) });
  };
  await goods(200);
  for (const [i, bytes] of sizes.entries()) {
    // One record per request: a record batch of several of them would be over the broker's limit on the way in.
    await producer.send({ topic, messages: [{ key: `b${i}`, value: large(i, bytes) }] });
    if (i < 3) await goods(100);
  }
  await goods(200);
  await producer.disconnect();
  assert.equal(large(2, 1_040_000).length, 1_040_000);

  const config = testConfig(topic, sim, segments, { buffer: { lingerMs: 100 } });
  const service = await startService(config, { log: quietLog() });
  const dlq = await readTopic(`${topic}.dlq`); // created by the service
  try {
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'the service to settle to the end offset', 180_000);
    await eventually(() => dlq.records.length >= sizes.length, `${sizes.length} dead letters`, 60_000);
    assert.equal(dlq.records.length, sizes.length, 'one letter per large record, nothing else');
    assert.ok(dlq.records.every((r) => r.headers[DLQ_HEADERS.code] === 'TOO_LARGE'), 'each for its size');
    const bySize = new Map(dlq.records.map((r) => [Number(r.headers[DLQ_HEADERS.offset]), r]));
    assert.equal(bySize.size, sizes.length, 'each large offset has its letter');
    // The largest letter does not fit the dead-letter topic whole: it is written with its value cut, and its
    // headers keep the original size, a hash and the source position.
    const cut = dlq.records.filter((r) => r.headers['dlq.truncated'] !== undefined);
    assert.ok(cut.some((r) => Number(r.headers['dlq.original.value.bytes']) === 1_040_000), 'the 1,040,000-byte letter is written cut');
    for (const r of cut) {
      assert.ok(Number(r.headers['dlq.original.value.bytes']) >= 900_000, 'only letters near the limit are cut');
      assert.match(r.headers['dlq.original.value.sha256'] ?? '', /^[0-9a-f]{64}$/);
      assert.equal(r.headers[DLQ_HEADERS.topic], topic);
    }
    const members = sim.snapshot().lists['1']?.members ?? {};
    assert.equal(Object.keys(members).filter((e) => e.startsWith('good')).length, n, 'every normal event is delivered');
    assert.equal(service.ingest.totals.deadLettered, sizes.length);
  } finally {
    await dlq.stop();
    await service.stop();
  }
});
