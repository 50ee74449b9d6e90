import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { readToEnd, type StoredRecord } from '../../src/kafka/read-to-end.js';
import { kafka } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The one bounded reader (DLQ tools, trace, ledger restore) against the real broker: it stops at the end
 * offsets of its start, also when the topic ends in transaction markers, starts where it is told, and stops
 * when its signal aborts.
 */
const client = kafka();
const w = world({ simulator: false });

async function read(
  topic: string,
  o: Omit<Parameters<typeof readToEnd>[4], 'groupPrefix'> = {},
): Promise<{ count: number; records: StoredRecord[]; progress: Map<number, number> }> {
  const records: StoredRecord[] = [];
  const progress = new Map<number, number>();
  const count = await readToEnd(client, w.admin, topic, (r) => void records.push(r), {
    groupPrefix: 'test',
    ...o,
    onProgress: (p, offset) => progress.set(p, Math.max(progress.get(p) ?? -1, offset)),
  });
  return { count, records, progress };
}

/** A topic whose partition 0 holds: 3 committed records, commit marker, 2 aborted records, abort marker. */
async function transactionalTopic(): Promise<string> {
  const topic = await w.topic('tx-read');
  const producer = client.producer({
    transactionalId: `${topic}-tx`,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [0, 1, 2].map((i) => ({ key: `c${i}`, value: 'kept', partition: 0 })) });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [0, 1].map((i) => ({ key: `a${i}`, value: 'dropped', partition: 0 })) });
    await aborted.abort();
  } finally {
    await producer.disconnect();
  }
  // The coordinator writes the abort marker after it answers; until then the listed (read_committed) end is
  // the open transaction's first offset, 4.
  await w.until(async () => Number((await w.admin.fetchTopicOffsets(topic))[0]?.high) === 7, 'the abort marker');
  return topic;
}

test('a transactional topic that ends in markers is read to its end: committed records only', {
  timeout: 90_000,
}, async () => {
  const topic = await transactionalTopic();
  const whole = await read(topic);
  assert.deepEqual(
    whole.records.map((r) => r.key?.toString()),
    ['c0', 'c1', 'c2'],
  );
  assert.equal(whole.count, 3);
  assert.equal(whole.progress.get(0), 6, 'progress reaches the last marker');
});

test('a read whose every fetch holds only markers and aborted records ends (the fetches kafkajs never hands to eachBatch)', {
  timeout: 90_000,
}, async () => {
  const topic = await transactionalTopic();
  // From offset 3 (the commit marker) on there is nothing to hand over: the old readToEnd waited here for ever.
  const tail = await read(topic, { from: new Map([[0, 3]]) });
  assert.deepEqual(tail.records, []);
  assert.equal(tail.progress.get(0), 6);
  const last = await read(topic, { from: (_p, _low, high) => high - 1 });
  assert.equal(last.count, 0);
});

test('it starts at the given offset of each partition (the beginning for a partition not named), and reads only the named partitions', async () => {
  const topic = await w.topic('from-read', 3);
  const messages = [0, 1, 2].flatMap((p) =>
    Array.from({ length: 10 }, (_, i) => ({ key: `p${p}-${i}`, value: String(i), partition: p })),
  );
  await w.produce(topic, messages);
  const { records } = await read(topic, { partitions: [0, 1], from: new Map([[0, 7]]) });
  const keys = records.map((r) => r.key?.toString()).sort();
  assert.deepEqual(keys, [...['p0-7', 'p0-8', 'p0-9'], ...Array.from({ length: 10 }, (_, i) => `p1-${i}`)].sort());
  assert.ok(records.every((r) => r.topic === topic && typeof r.offset === 'number'));
});

test('an abort stops the read: it rejects with the signal reason and hands nothing more over', async () => {
  const topic = await w.topic('abort-read');
  await w.produce(
    topic,
    Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
  );
  const abort = new AbortController();
  let seen = 0;
  const reading = readToEnd(
    client,
    w.admin,
    topic,
    (r) => {
      seen++;
      if (r.offset === 10) abort.abort(new Error('enough'));
    },
    { groupPrefix: 'test', signal: abort.signal },
  );
  await assert.rejects(reading, /enough/);
  assert.equal(seen, 11, 'nothing after the abort');
  const already = new AbortController();
  already.abort();
  await assert.rejects(
    readToEnd(client, w.admin, topic, () => undefined, { groupPrefix: 'test', signal: already.signal }),
    (err: Error) => err.name === 'AbortError',
  );
});

test('a partition that retention empties after the ends were read does not keep the read waiting', async () => {
  const topic = await w.topic('emptied-read', 2);
  await w.produce(
    topic,
    Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: 'v', partition: i % 2 })),
  );
  const { count, records } = await read(topic, {
    watermarkCheckMs: 200,
    // What retention does to partition 1, after its end was fixed and before the consumer reads it.
    onEnds: async (ends) => {
      await w.admin.deleteTopicRecords({ topic, partitions: [{ partition: 1, offset: String(ends.get(1)) }] });
    },
  });
  assert.equal(count, 5);
  assert.ok(
    records.every((r) => r.partition === 0),
    'partition 0 read whole',
  );
});
