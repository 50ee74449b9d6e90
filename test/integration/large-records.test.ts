import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { kafka } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Issue 12: one large record stopped everything. A partition's letters went to the dead-letter topic in one
 * request over the broker's limit, retried for ever, and every commit behind them stalled. Here, on one
 * partition with the broker's default limits, records of 300 KB, 900 KB and 1,040,000 bytes and 50 records of
 * 100 KB in a row sit among normal events: every large one is dead-lettered (TOO_LARGE, over
 * ingest.maxEventBytes), the normal ones are delivered, and the service settles to the end offset.
 */
const w = world({ segments: ['vip'], simulator: { timeScale: 20, lists: [{ id: '1', name: 'VIP' }] } });

const good = (i: number) =>
  JSON.stringify({
    eventId: `g${i}`,
    occurredAt: new Date(Date.parse('2026-11-28T10:00:00Z') + i).toISOString(),
    segmentId: 'vip',
    op: 'add',
    profile: { id: `p${i}`, email: `good${i}@example.com` },
  });
/** A syntactically valid event padded to `bytes` with an attribute: only its size is wrong. */
const large = (i: number, bytes: number) => {
  const head = JSON.stringify({
    eventId: `big${i}`,
    occurredAt: '2026-11-28T10:00:00Z',
    segmentId: 'vip',
    op: 'add',
    profile: { id: `b${i}`, email: `big${i}@example.com`, attributes: { pad: '' } },
  });
  return Buffer.from(head.replace('"pad":""', `"pad":"${'x'.repeat(bytes - head.length)}"`));
};

test('records of 300 KB, 900 KB and 1,040,000 bytes and 50 of 100 KB in a row are all dead-lettered, and the service settles to the end', async () => {
  const topic = await w.topic('large');
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

  const service = await w.service(topic, { buffer: { lingerMs: 100 } });
  const dlq = await w.reader(`${topic}.dlq`); // created by the service
  await w.committed(service, 'the service to settle to the end offset', 180_000);
  await dlq.until(sizes.length, 60_000);
  assert.equal(dlq.records.length, sizes.length, 'one letter per large record, nothing else');
  assert.ok(
    dlq.records.every((r) => r.headers[DLQ_HEADERS.code] === 'TOO_LARGE'),
    'each for its size',
  );
  const bySize = new Map(dlq.records.map((r) => [Number(r.headers[DLQ_HEADERS.offset]), r]));
  assert.equal(bySize.size, sizes.length, 'each large offset has its letter');
  // The largest letter does not fit the dead-letter topic whole: it is written with its value cut, and its
  // headers keep the original size, a hash and the source position.
  const cut = dlq.records.filter((r) => r.headers['dlq.truncated'] !== undefined);
  assert.ok(
    cut.some((r) => Number(r.headers['dlq.original.value.bytes']) === 1_040_000),
    'the 1,040,000-byte letter is written cut',
  );
  for (const r of cut) {
    assert.ok(Number(r.headers['dlq.original.value.bytes']) >= 900_000, 'only letters near the limit are cut');
    assert.match(r.headers['dlq.original.value.sha256'] ?? '', /^[0-9a-f]{64}$/);
    assert.equal(r.headers[DLQ_HEADERS.topic], topic);
  }
  const members = w.sim.snapshot().lists['1']?.members ?? {};
  assert.equal(Object.keys(members).filter((e) => e.startsWith('good')).length, n, 'every normal event is delivered');
  assert.equal(service.totals().deadLettered, sizes.length);
});
