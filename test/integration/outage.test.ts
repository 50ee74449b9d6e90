import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Gauge } from 'prom-client';
import { world } from '../support/world.js';

/**
 * ActiveCampaign unavailable for a while: fetching pauses, the buffer gauges stay under their bound while it is
 * down, delivery resumes when it answers again, nothing is lost and nothing is dead-lettered.
 */
const w = world({ segments: ['vip', 'newsletter', 'churn'], simulator: { timeScale: 20 } });
const MAX_PENDING = 1_000;
const EVENTS = 4_000;

async function gauge(g: Gauge<string>): Promise<number> {
  const { values } = await g.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

test('an outage pauses fetching with the buffer under its bound; delivery resumes and nothing is lost or dead-lettered', async () => {
  const topic = await w.topic('outage', 3);
  const expected = await w.produceSample(topic, { events: EVENTS, segments: w.segments, seed: 5 });
  const service = await w.service(topic, { buffer: { maxPendingEvents: MAX_PENDING } });
  w.defer(async () => w.sim.configure({ unavailable: false }));
  await w.until(() => w.sim.snapshot().counters.importsAccepted >= 2, 'the first imports to be accepted');
  w.sim.configure({ unavailable: true });
  const consumedAtOutage = service.totals().consumed;
  assert.ok(consumedAtOutage < EVENTS, `the outage starts mid-stream (consumed ${consumedAtOutage})`);

  await w.until(async () => service.paused() && (await gauge(service.metrics.paused)) === 1, 'fetching to pause');
  // The simulator counts a 503 when it decides it; the service knows of the outage once it has read one.
  await w.until(async () => (await gauge(service.metrics.accountDown)) >= 1, 'the service to meet the outage');

  // While it is down: sample the gauges for a while; nothing is fetched and they stay under the bound.
  const consumedWhilePaused = service.totals().consumed;
  let maxPending = 0;
  let maxContacts = 0;
  const until = Date.now() + 3_000;
  while (Date.now() < until) {
    maxPending = Math.max(maxPending, await gauge(service.metrics.pendingEvents), service.pending());
    maxContacts = Math.max(maxContacts, await gauge(service.metrics.bufferedContacts));
    assert.equal(service.paused(), true, 'fetching stays paused while the account is down');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(
    maxPending > 0 && maxPending <= MAX_PENDING,
    `pending events stayed within ${MAX_PENDING} (max ${maxPending})`,
  );
  assert.ok(maxContacts <= MAX_PENDING, `buffered contacts stayed within ${MAX_PENDING} (max ${maxContacts})`);
  assert.equal(service.totals().consumed, consumedWhilePaused, 'nothing was fetched while paused');
  assert.ok(consumedWhilePaused < EVENTS, 'the rest of the stream waits on Kafka');

  w.sim.configure({ unavailable: false });
  await w.membership(expected, 'delivery to resume and catch up');
  await w.committed(service, 'committed offsets to reach the end');
  await w.until(() => !service.paused(), 'fetching to resume');

  assert.equal(service.totals().consumed, EVENTS);
  assert.equal(service.totals().deadLettered, 0, 'an outage dead-letters nothing');
  const dlqEnds = await w.admin.fetchTopicOffsets(`${topic}.dlq`);
  assert.ok(
    dlqEnds.every((p) => p.high === '0'),
    'the dead-letter topic is empty',
  );
  assert.equal(w.sim.snapshot().counters.violations, 0);
});
