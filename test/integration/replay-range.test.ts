import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { parseFrom } from '../../src/replay/from.js';
import { runReplay } from '../../src/replay/run.js';
import { kafka, quietLog } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Replays bounded by time and by offsets, run in-process (runReplay) against the real broker and the simulator:
 * only the events inside the range are processed, and a partition that ends in a transaction marker or holds
 * nothing does not keep the run waiting.
 */
const segments = ['vip', 'newsletter'];
const w = world({ segments, simulator: { timeScale: 5 } });

const HOUR = 3_600_000;
// Hours before now: the broker's retention (7 days by default) deletes records whose timestamps are older, at a
// moment of its own choosing, and a replay of a range it deleted cannot end complete (the last test).
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 4 * HOUR;
const event = (i: number, segmentId: string, at: number) => ({
  key: `p-${i}`,
  value: JSON.stringify({
    eventId: `e-${i}`,
    occurredAt: new Date(at).toISOString(),
    segmentId,
    op: 'add',
    profile: { id: `p-${i}`, email: `r${i}@example.com` },
  }),
  timestamp: String(at),
});

const replayShare = { main: { replayShare: 0.5 } };
function config(topic: string) {
  const base = w.config(topic);
  return { ...base, connections: { main: { ...base.connections.main!, ...replayShare.main } } };
}

test('a replay from a timestamp processes only the events after it; --to stops before the events at or after its time', async () => {
  const topic = await w.topic('replay-ts', 3);
  // Three hours of events, 40 per hour, with Kafka timestamps set by the producer (CreateTime).
  const hours = [0, 1, 2].map((h) =>
    Array.from({ length: 40 }, (_, i) => event(h * 100 + i, segments[i % 2]!, T0 + h * HOUR + i * 1000)),
  );
  await w.produce(topic, hours.flat());
  w.sim.configure({});
  const before = w.sim.snapshot().counters.contactsImported;

  const { summary, exitCode, ranges } = await runReplay(config(topic), {
    from: parseFrom(new Date(T0 + HOUR).toISOString()),
    to: T0 + 2 * HOUR,
    log: quietLog(),
  });
  assert.equal(exitCode, 0, 'complete, nothing dead-lettered');
  assert.equal(summary.complete, true);
  assert.equal(summary.events.consumed, 40, 'only the second hour is consumed');
  assert.equal(summary.events.delivered, 40);
  assert.equal(
    ranges.reduce((n, r) => n + r.end - r.start, 0),
    40,
  );
  const snap = w.sim.snapshot();
  const members = { ...snap.lists['1']!.members, ...snap.lists['2']!.members };
  for (let i = 0; i < 40; i++)
    assert.equal(members[`r${100 + i}@example.com`]?.status, 1, `r${100 + i} (second hour) is subscribed`);
  for (const i of [0, 39, 200, 239])
    assert.equal(members[`r${i}@example.com`], undefined, `r${i} (outside the range) was not sent`);
  assert.equal(snap.counters.contactsImported - before, 40);
  assert.equal(
    summary.lists.reduce((n, l) => n + l.events, 0),
    40,
  );
  assert.equal(
    summary.lists.reduce((n, l) => n + l.contacts, 0),
    40,
  );
  assert.ok(summary.api.byEndpoint.bulk_import! >= 1);
});

test('a partition that ends in a transaction marker, one that ends in an aborted transaction, and an empty one do not keep a replay waiting', async () => {
  const topic = await w.topic('replay-txn', 3);
  const producer = kafka().producer({
    transactionalId: `${topic}-tx`,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const committed = await producer.transaction();
  await committed.send({
    topic,
    messages: Array.from({ length: 10 }, (_, i) => ({ ...event(300 + i, 'vip', T0 + i), partition: 0 })),
  });
  await committed.commit();
  // The listed offsets are read_committed (the last stable offset): they pass the commit once its marker is written.
  const afterCommit = 10 + 1;
  await w.until(
    async () => Number((await w.admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)!.high) === afterCommit,
    'the commit marker',
  );
  const aborted = await producer.transaction();
  await aborted.send({
    topic,
    messages: Array.from({ length: 5 }, (_, i) => ({ ...event(400 + i, 'vip', T0 + i), partition: 0 })),
  });
  await aborted.abort();
  await producer.disconnect();
  await w.produce(
    topic,
    Array.from({ length: 6 }, (_, i) => ({ ...event(500 + i, 'newsletter', T0 + i), partition: 2 })),
  );
  const high0 = 10 + 1 + 5 + 1; // ten records, a commit marker, five aborted records, an abort marker
  await w.until(
    async () => Number((await w.admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)!.high) === high0,
    'the abort marker',
  );

  // From earliest: the committed ten and partition 2's six; partition 1 is empty.
  const whole = await runReplay(config(topic), { from: parseFrom('earliest'), log: quietLog() });
  assert.equal(whole.exitCode, 0);
  assert.equal(whole.summary.events.consumed, 16, 'aborted records are not events');
  assert.equal(w.sim.snapshot().lists['1']!.members['r300@example.com']?.status, 1);
  assert.equal(w.sim.snapshot().lists['1']!.members['r400@example.com'], undefined, 'an aborted record is never sent');

  // From the aborted transaction on: its fetch holds no event at all (kafkajs never calls eachBatch for it).
  const tail = await runReplay(config(topic), { from: parseFrom(`0:${afterCommit},1:0,2:6`), topic, log: quietLog() });
  assert.equal(tail.exitCode, 0);
  assert.equal(tail.summary.complete, true);
  assert.equal(tail.summary.events.consumed, 0);
  assert.deepEqual(
    tail.ranges.map((r) => [r.partition, r.start, r.end]),
    [
      [0, afterCommit, high0],
      [1, 0, 0],
      [2, 6, 6],
    ],
  );
});

test('a range that retention deletes before the replay reads it ends the replay incomplete, naming the lost offsets', async () => {
  const topic = await w.topic('replay-lost', 2);
  await w.produce(
    topic,
    Array.from({ length: 20 }, (_, i) => ({ ...event(600 + i, 'vip', T0 + i * 1000), partition: i % 2 })),
  );
  const high = new Map((await w.admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  assert.ok(high.get(0)! > 0 && high.get(1)! > 0, 'both partitions hold events');
  const { exitCode, summary } = await runReplay(config(topic), {
    from: parseFrom('earliest'),
    log: quietLog(),
    retentionCheckEveryMs: 200,
    // What retention does to old segments, at once and for partition 1 only, after the ranges were fixed.
    onPlanned: async () => {
      await w.admin.deleteTopicRecords({ topic, partitions: [{ partition: 1, offset: String(high.get(1)) }] });
    },
  });
  assert.equal(exitCode, 3, 'incomplete');
  assert.equal(summary.complete, false);
  assert.deepEqual(summary.lostToRetention, [{ topic, partition: 1, start: 0, end: high.get(1) }]);
  assert.equal(summary.events.consumed, high.get(0), "partition 0's events were still read and delivered");
  assert.equal(summary.events.delivered, high.get(0));
});

test('a signal while the replay waits at start-up for an account that does not answer ends it, incomplete', async () => {
  const topic = await w.topic('replay-stop', 1);
  await w.produce(topic, [event(700, 'vip', T0)]);
  const base = config(topic);
  const away = { ...base, connections: { main: { ...base.connections.main!, apiUrl: 'http://127.0.0.1:1/api/3' } } };
  const abort = new AbortController();
  const run = runReplay(away, {
    from: parseFrom('earliest'),
    log: quietLog(),
    signal: abort.signal,
    onPlanned: async () => void setTimeout(() => abort.abort(), 500),
  });
  const { exitCode, summary } = await run;
  assert.equal(exitCode, 3);
  assert.equal(summary.complete, false);
  assert.equal(summary.events.consumed, 0);
});
