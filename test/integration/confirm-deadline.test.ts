import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTopic, eventually, kafka, offsetsCaughtUp, produce, quietLog, startService, startSimulator, testConfig, uniqueTopic, type Simulator } from '../support/harness.js';

/**
 * Issue 14: an import that never completes was polled for ever, its emails held and its offsets uncommitted.
 * Here the simulator keeps the first import `active` for ever: its confirmation deadline fires, its changes are
 * resubmitted within the bound, and the service settles. The commit stall is at most the README's
 * (maxImportResubmits + 1) × confirmTimeoutMs.
 */
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

test('an import that stays active for ever: the deadline fires, the import is resubmitted, and the service settles within the stated stall', async () => {
  const topic = uniqueTopic('deadline');
  await createTopic(admin, topic, 1);
  const events = Array.from({ length: 40 }, (_, i) => ({
    key: `p${i}`,
    value: JSON.stringify({ eventId: `e${i}`, occurredAt: new Date(Date.parse('2026-11-28T10:00:00Z') + i).toISOString(), segmentId: 'vip', op: 'add', profile: { id: `p${i}`, email: `c${i}@example.com` } }),
  }));
  await produce(topic, events);
  sim.configure({ stuckImports: { next: 1, status: 'active' } });
  const confirmTimeoutMs = 10_000; // 500 ms at the test's time scale of 20
  const maxImportResubmits = 3;
  const config = testConfig(topic, sim, ['vip'], { buffer: { lingerMs: 100 }, delivery: { timeScale: 20, pollIntervalMs: 500, confirmTimeoutMs, maxImportResubmits } });
  const started = Date.now();
  const service = await startService(config, { log: quietLog() });
  try {
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'the service to settle', 60_000);
    const took = Date.now() - started;
    const stall = ((maxImportResubmits + 1) * confirmTimeoutMs) / 20;
    assert.ok(took < stall + 30_000, `settled in ${took} ms: bounded by the stated stall (${stall} ms) plus start-up, not polled for ever`);
    const timeouts = (await service.metrics.confirmations.get()).values.find((v) => v.labels.status === 'timeout')?.value ?? 0;
    assert.equal(timeouts, 1, 'one import passed its deadline');
    const snap = sim.snapshot();
    assert.equal(Object.keys(snap.lists['1']?.members ?? {}).length, 40, 'every contact is on the list');
    assert.ok(snap.counters.importsAccepted >= 2, 'the stuck import was resubmitted');
    assert.equal(service.ingest.totals.deadLettered, 0);
  } finally {
    await service.stop();
  }
});

// A late add cannot land over the service's newer remove (bulk import never re-subscribes an unsubscribed
// membership), but a late remove lands over a newer re-entry: the contact would end unsubscribed.
test('an abandoned import of removes that ActiveCampaign completes after the contacts re-entered: they are re-subscribed and the list ends exact', async () => {
  const topic = uniqueTopic('deadline-late');
  await createTopic(admin, topic, 1);
  sim.finishStuckImports(); // the first test's, whose service has stopped
  const at = (i: number) => new Date(Date.parse('2026-11-28T10:00:00Z') + i).toISOString();
  const event = (i: number, op: 'add' | 'remove', n: number) => ({ key: `p${i}`, value: JSON.stringify({ eventId: `${op}${n}`, occurredAt: at(n), segmentId: 'vip', op, profile: { id: `p${i}`, email: `late${i}@example.com` } }) });
  const config = testConfig(topic, sim, ['vip'], { buffer: { lingerMs: 100 }, delivery: { timeScale: 20, pollIntervalMs: 500, confirmTimeoutMs: 10_000 } });
  const members = () => Object.entries(sim.snapshot().lists['1']?.members ?? {}).filter(([email, m]) => m.status === 1 && email.startsWith('late')).map(([email]) => email).sort();
  const settled = (what: string, n: number) => eventually(async () => (await offsetsCaughtUp(admin, config.kafka.groupId, topic)) && members().length === n, what, 60_000);
  await produce(topic, Array.from({ length: 10 }, (_, i) => event(i, 'add', i)));
  const service = await startService(config, { log: quietLog() });
  try {
    await settled('the adds to settle', 10);
    sim.configure({ stuckImports: { next: 1, status: 'active' } });
    await produce(topic, Array.from({ length: 5 }, (_, i) => event(i, 'remove', 100 + i)));
    await settled('the removes to settle through the resubmission of their stuck import', 5);
    await produce(topic, Array.from({ length: 5 }, (_, i) => event(i, 'add', 200 + i)));
    await settled('the re-entries to settle', 10);
    assert.equal(sim.finishStuckImports(), 1, 'the abandoned import completes now');
    assert.equal(members().length, 5, 'its removes landed over the re-entries');
    // The abandoned batch is polled every 5 minutes of the delivery clock (15 s at its time scale of 20).
    await eventually(() => members().length === 10, 'the re-entries to be sent again', 60_000);
    const reasserts = (await service.metrics.lateImportReasserts.get()).values.reduce((n, v) => n + v.value, 0);
    assert.equal(reasserts, 5);
    assert.equal(sim.snapshot().counters.forcedResubscribes, 0, 'no one who unsubscribed themselves was re-subscribed');
  } finally {
    await service.stop();
  }
});
