import assert from 'node:assert/strict';
import { test } from 'node:test';
import { world } from '../support/world.js';

const w = world({ segments: ['vip', 'newsletter', 'churn'], simulator: { timeScale: 5 } });

test('events on a real broker end in the simulator as the last event per (segment, contact) implies, and offsets reach the end', async () => {
  const topic = await w.topic('sync', 3);
  const expected = await w.produceSample(topic, { events: 5_000, segments: w.segments });
  const service = await w.service(topic);
  await w.membership(expected);
  await w.committed(service);
  assert.equal(service.totals().consumed, 5_000);
  assert.equal(service.totals().deadLettered, 0);
  const snap = w.sim.snapshot();
  assert.equal(snap.counters.violations, 0, 'no request over the simulator limits');
  // A membership check that can fail: a contact that was never in any event is on no list.
  assert.equal(snap.lists['1']?.members['nobody@example.com'], undefined);
});

test('an invalid event neither stops the consumer nor holds back the committed offset', async () => {
  const topic = await w.topic('invalid');
  const good = (i: number) =>
    JSON.stringify({
      eventId: `g${i}`,
      occurredAt: '2026-11-28T10:00:00Z',
      segmentId: 'vip',
      op: 'add',
      profile: { id: `p${i}`, email: `good${i}@example.com` },
    });
  await w.produce(topic, [
    { key: 'p1', value: good(1) },
    { key: 'p2', value: 'not json' },
    {
      key: 'p3',
      value: JSON.stringify({
        eventId: 'x',
        occurredAt: 'yesterday',
        segmentId: 'vip',
        op: 'add',
        profile: { id: 'p3', email: 'a@b.co' },
      }),
    },
    { key: 'p4', value: good(4) },
  ]);
  const service = await w.service(topic);
  await w.until(
    () => w.sim.snapshot().lists['1']?.members['good4@example.com']?.status === 1,
    'the good event after the bad ones to arrive',
  );
  await w.committed(service);
  assert.equal(service.totals().deadLettered, 2);
  assert.equal(w.sim.snapshot().lists['1']?.members['good1@example.com']?.status, 1);
});
