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
    assert.equal(service.pipeline.totals.deadLettered, 0);
  } finally {
    await service.stop();
  }
});
