import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Gauge } from 'prom-client';
import { membershipDiff } from '../../src/dev/sample/events.js';
import { createTopic, eventually, kafka, offsetsCaughtUp, produceSample, quietLog, startService, startSimulator, testConfig, uniqueTopic, type Simulator } from '../support/harness.js';

/**
 * ActiveCampaign unavailable for a while: fetching pauses, the buffer gauges stay under their bound while it is
 * down, delivery resumes when it answers again, nothing is lost and nothing is dead-lettered.
 */
const segments = ['vip', 'newsletter', 'churn'];
const MAX_PENDING = 1_000;
const EVENTS = 4_000;
const admin = kafka().admin();
let sim: Simulator;

before(async () => {
  await admin.connect();
  sim = await startSimulator({ timeScale: 20, lists: segments.map((_, i) => ({ id: String(i + 1), name: `L${i + 1}` })) });
});
after(async () => {
  await sim.close();
  await admin.disconnect();
});

async function gauge(g: Gauge<string>): Promise<number> {
  const { values } = await g.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

test('an outage pauses fetching with the buffer under its bound; delivery resumes and nothing is lost or dead-lettered', async () => {
  const topic = uniqueTopic('outage');
  await createTopic(admin, topic, 3);
  const expected = await produceSample(topic, { events: EVENTS, segments, seed: 5 });
  const config = testConfig(topic, sim, segments, { buffer: { maxPendingEvents: MAX_PENDING } });
  const service = await startService(config, { log: quietLog() });
  try {
    await eventually(() => sim.snapshot().counters.importsAccepted >= 2, 'the first imports to be accepted');
    sim.configure({ unavailable: true });
    const consumedAtOutage = service.ingest.totals.consumed;
    assert.ok(consumedAtOutage < EVENTS, `the outage starts mid-stream (consumed ${consumedAtOutage})`);

    await eventually(async () => service.consumer.paused && (await gauge(service.metrics.paused)) === 1, 'fetching to pause');
    await eventually(() => sim.snapshot().counters.unavailable503 > 0, 'the service to meet the outage');

    // While it is down: sample the gauges for a while; nothing is fetched and they stay under the bound.
    const consumedWhilePaused = service.ingest.totals.consumed;
    let maxPending = 0;
    let maxContacts = 0;
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      maxPending = Math.max(maxPending, await gauge(service.metrics.pendingEvents), service.ingest.pending);
      maxContacts = Math.max(maxContacts, await gauge(service.metrics.bufferedContacts));
      assert.equal(service.consumer.paused, true, 'fetching stays paused while the account is down');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(maxPending > 0 && maxPending <= MAX_PENDING, `pending events stayed within ${MAX_PENDING} (max ${maxPending})`);
    assert.ok(maxContacts <= MAX_PENDING, `buffered contacts stayed within ${MAX_PENDING} (max ${maxContacts})`);
    assert.equal(service.ingest.totals.consumed, consumedWhilePaused, 'nothing was fetched while paused');
    assert.ok(consumedWhilePaused < EVENTS, 'the rest of the stream waits on Kafka');

    sim.configure({ unavailable: false });
    const listOf = (s: string) => String(segments.indexOf(s) + 1);
    await eventually(() => membershipDiff(expected, listOf, (id) => sim.snapshot().lists[id]?.members ?? {}).length === 0, 'delivery to resume and catch up');
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'committed offsets to reach the end');
    await eventually(() => !service.consumer.paused, 'fetching to resume');

    assert.equal(service.ingest.totals.consumed, EVENTS);
    assert.equal(service.ingest.totals.deadLettered, 0, 'an outage dead-letters nothing');
    const dlqEnds = await admin.fetchTopicOffsets(`${topic}.dlq`);
    assert.ok(dlqEnds.every((p) => p.high === '0'), 'the dead-letter topic is empty');
    assert.equal(sim.snapshot().counters.violations, 0);
  } finally {
    sim.configure({ unavailable: false });
    await service.stop();
  }
});
