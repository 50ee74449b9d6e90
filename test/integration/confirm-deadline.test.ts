import assert from 'node:assert/strict';
import { test } from 'node:test';
import { world } from '../support/world.js';

/**
 * Issue 14: an import that never completes was polled for ever, its emails held and its offsets uncommitted.
 * Here the simulator keeps the first import `active` for ever: its confirmation deadline fires, its changes are
 * resubmitted within the bound, and the service settles. The commit stall is at most the README's
 * (maxImportResubmits + 1) × confirmTimeoutMs.
 */
const w = world({ segments: ['vip'], simulator: { timeScale: 20, lists: [{ id: '1', name: 'VIP' }] } });

test('an import that stays active for ever: the deadline fires, the import is resubmitted, and the service settles within the stated stall', async () => {
  const topic = await w.topic('deadline');
  const events = Array.from({ length: 40 }, (_, i) => ({
    key: `p${i}`,
    value: JSON.stringify({
      eventId: `e${i}`,
      occurredAt: new Date(Date.parse('2026-11-28T10:00:00Z') + i).toISOString(),
      segmentId: 'vip',
      op: 'add',
      profile: { id: `p${i}`, email: `c${i}@example.com` },
    }),
  }));
  await w.produce(topic, events);
  w.sim.configure({ stuckImports: { next: 1, status: 'active' } });
  const confirmTimeoutMs = 10_000; // 500 ms at the test's time scale of 20
  const maxImportResubmits = 3;
  const config = w.config(topic, {
    buffer: { lingerMs: 100 },
    delivery: { timeScale: 20, pollIntervalMs: 500, confirmTimeoutMs, maxImportResubmits },
  });
  const started = Date.now();
  const service = await w.start(config);
  await w.committed(service, 'the service to settle', 60_000);
  const took = Date.now() - started;
  const stall = ((maxImportResubmits + 1) * confirmTimeoutMs) / 20;
  assert.ok(
    took < stall + 30_000,
    `settled in ${took} ms: bounded by the stated stall (${stall} ms) plus start-up, not polled for ever`,
  );
  const timeouts =
    (await service.metrics.confirmations.get()).values.find((v) => v.labels.status === 'timeout')?.value ?? 0;
  assert.equal(timeouts, 1, 'one import passed its deadline');
  const snap = w.sim.snapshot();
  assert.equal(Object.keys(snap.lists['1']?.members ?? {}).length, 40, 'every contact is on the list');
  assert.ok(snap.counters.importsAccepted >= 2, 'the stuck import was resubmitted');
  assert.equal(service.totals().deadLettered, 0);
});

// A late add cannot land over the service's newer remove (bulk import never re-subscribes an unsubscribed
// membership), but a late remove lands over a newer re-entry: the contact would end unsubscribed.
test('an abandoned import of removes that ActiveCampaign completes after the contacts re-entered: they are re-subscribed and the list ends exact', async () => {
  const topic = await w.topic('deadline-late');
  w.sim.finishStuckImports(); // the first test's, whose service has stopped
  const at = (i: number) => new Date(Date.parse('2026-11-28T10:00:00Z') + i).toISOString();
  const event = (i: number, op: 'add' | 'remove', n: number) => ({
    key: `p${i}`,
    value: JSON.stringify({
      eventId: `${op}${n}`,
      occurredAt: at(n),
      segmentId: 'vip',
      op,
      profile: { id: `p${i}`, email: `late${i}@example.com` },
    }),
  });
  const config = w.config(topic, {
    buffer: { lingerMs: 100 },
    delivery: { timeScale: 20, pollIntervalMs: 500, confirmTimeoutMs: 10_000 },
  });
  const members = () =>
    Object.entries(w.sim.snapshot().lists['1']?.members ?? {})
      .filter(([email, m]) => m.status === 1 && email.startsWith('late'))
      .map(([email]) => email)
      .sort();
  const settled = (what: string, n: number) =>
    w.until(async () => (await w.caughtUp(config)) && members().length === n, what, 60_000);
  await w.produce(
    topic,
    Array.from({ length: 10 }, (_, i) => event(i, 'add', i)),
  );
  const service = await w.start(config);
  await settled('the adds to settle', 10);
  w.sim.configure({ stuckImports: { next: 1, status: 'active' } });
  await w.produce(
    topic,
    Array.from({ length: 5 }, (_, i) => event(i, 'remove', 100 + i)),
  );
  await settled('the removes to settle through the resubmission of their stuck import', 5);
  await w.produce(
    topic,
    Array.from({ length: 5 }, (_, i) => event(i, 'add', 200 + i)),
  );
  await settled('the re-entries to settle', 10);
  assert.equal(w.sim.finishStuckImports(), 1, 'the abandoned import completes now');
  assert.equal(members().length, 5, 'its removes landed over the re-entries');
  // The abandoned batch is polled every 5 minutes of the delivery clock (15 s at its time scale of 20).
  await w.until(() => members().length === 10, 'the re-entries to be sent again', 60_000);
  const reasserts = (await service.metrics.lateImportReasserts.get()).values.reduce((n, v) => n + v.value, 0);
  assert.equal(reasserts, 5);
  assert.equal(w.sim.snapshot().counters.forcedResubscribes, 0, 'no one who unsubscribed themselves was re-subscribed');
});
