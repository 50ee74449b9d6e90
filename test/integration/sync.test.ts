import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { membershipDiff } from '../../src/dev/sample/events.js';
import { createTopic, eventually, kafka, offsetsCaughtUp, produceSample, quietLog, startService, startSimulator, testConfig, uniqueTopic, type Simulator } from '../support/harness.js';

const segments = ['vip', 'newsletter', 'churn'];
const admin = kafka().admin();
let sim: Simulator;

before(async () => {
  await admin.connect();
  sim = await startSimulator({ timeScale: 5, lists: segments.map((_, i) => ({ id: String(i + 1), name: `L${i + 1}` })) });
});
after(async () => {
  await sim.close();
  await admin.disconnect();
});

test('events on a real broker end in the simulator as the last event per (segment, contact) implies, and offsets reach the end', async () => {
  const topic = uniqueTopic('sync');
  await createTopic(admin, topic, 3);
  const expected = await produceSample(topic, { events: 5_000, segments });
  const config = testConfig(topic, sim, segments);
  const service = await startService(config, { log: quietLog() });
  try {
    const listOf = (s: string) => String(segments.indexOf(s) + 1);
    await eventually(() => membershipDiff(expected, listOf, (id) => sim.snapshot().lists[id]?.members ?? {}).length === 0, 'simulator membership to match the events');
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'committed offsets to reach the end offsets');
    assert.equal(service.ingest.totals.consumed, 5_000);
    assert.equal(service.ingest.totals.deadLettered, 0);
    const snap = sim.snapshot();
    assert.equal(snap.counters.violations, 0, 'no request over the simulator limits');
    // A membership check that can fail: a contact that was never in any event is on no list.
    assert.equal(snap.lists['1']?.members['nobody@example.com'], undefined);
  } finally {
    await service.stop();
  }
});

test('an invalid event neither stops the consumer nor holds back the committed offset', async () => {
  const topic = uniqueTopic('invalid');
  await createTopic(admin, topic, 1);
  const { produce } = await import('../support/harness.js');
  const good = (i: number) => JSON.stringify({ eventId: `g${i}`, occurredAt: '2026-11-28T10:00:00Z', segmentId: 'vip', op: 'add', profile: { id: `p${i}`, email: `good${i}@example.com` } });
  await produce(topic, [
    { key: 'p1', value: good(1) },
    { key: 'p2', value: 'not json' },
    { key: 'p3', value: JSON.stringify({ eventId: 'x', occurredAt: 'yesterday', segmentId: 'vip', op: 'add', profile: { id: 'p3', email: 'a@b.co' } }) },
    { key: 'p4', value: good(4) },
  ]);
  const config = testConfig(topic, sim, segments);
  const service = await startService(config, { log: quietLog() });
  try {
    await eventually(() => sim.snapshot().lists['1']?.members['good4@example.com']?.status === 1, 'the good event after the bad ones to arrive');
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'committed offset to pass the invalid events');
    assert.equal(service.ingest.totals.deadLettered, 2);
    assert.equal(sim.snapshot().lists['1']?.members['good1@example.com']?.status, 1);
  } finally {
    await service.stop();
  }
});
