import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTopic, eventually, kafka, offsetsCaughtUp, produce, quietLog, startService, startSimulator, testConfig, uniqueTopic, type Simulator } from '../support/harness.js';
import { readTopic, reasonOf } from '../support/harness.js';

/**
 * The README's edge rules, end to end on one partition (all records arrive in one fetch, inside one linger):
 * tombstones and empty values, binary garbage, a repeated eventId, an older occurredAt after a newer one.
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

const change = (eventId: string, email: string, op: 'add' | 'remove', at: string) =>
  JSON.stringify({ eventId, occurredAt: `2026-11-28T10:00:${at}Z`, segmentId: 'vip', op, profile: { id: email.split('@')[0], email } });

test('edge rules: tombstones, empty values and garbage are dead-lettered; a repeated eventId is harmless; the newest occurredAt wins in the buffer', async () => {
  const topic = uniqueTopic('edge');
  await createTopic(admin, topic, 1);
  await produce(topic, [
    { key: 'tomb', value: null },
    { key: 'empty', value: Buffer.alloc(0) },
    { key: 'garbage', value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff]) },
    // The same event twice (a producer retry): one state, both settle.
    { key: 'rep', value: change('e-rep', 'repeat@example.com', 'add', '01') },
    { key: 'rep', value: change('e-rep', 'repeat@example.com', 'add', '01') },
    // Newer remove, then an older add arrives (a late retry of an earlier event): the remove stands.
    { key: 'late', value: change('e-late-1', 'late@example.com', 'add', '01') },
    { key: 'late', value: change('e-late-3', 'late@example.com', 'remove', '03') },
    { key: 'late', value: change('e-late-2', 'late@example.com', 'add', '02') },
    // A repeated eventId whose repeat is older than the change buffered after it: superseded, like any late event.
    { key: 'old', value: change('e-old-1', 'old@example.com', 'add', '01') },
    { key: 'old', value: change('e-old-2', 'old@example.com', 'remove', '05') },
    { key: 'old', value: change('e-old-1', 'old@example.com', 'add', '01') },
  ]);
  const config = testConfig(topic, sim, ['vip'], { buffer: { lingerMs: 2_000 } });
  const service = await startService(config, { log: quietLog() });
  const dlq = await readTopic(`${topic}.dlq`);
  try {
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'every record to settle');
    await eventually(() => dlq.records.length >= 3, 'three dead letters');
    assert.deepEqual(dlq.records.map((r) => `${r.key?.toString()} ${reasonOf(r)}`).sort(), ['empty decode/EMPTY_VALUE', 'garbage decode/NOT_UTF8', 'tomb decode/TOMBSTONE']);
    assert.equal(dlq.records.find((r) => r.key?.toString() === 'tomb')?.value, null, 'a tombstone stays a tombstone in the dead-letter topic');

    const members = sim.snapshot().lists['1']!.members;
    assert.equal(members['repeat@example.com']?.status, 1, 'the repeated add subscribed once');
    // Issue 15: the newer remove stands, and since ActiveCampaign never had these contacts it creates none.
    assert.equal(members['late@example.com'], undefined, 'the older add did not undo the newer remove (and the remove created no contact)');
    assert.equal(members['old@example.com'], undefined, 'the repeat of an old add did not undo the newer remove (no contact created)');

    const totals = service.ingest.totals;
    assert.equal(totals.consumed, 11);
    assert.equal(totals.delivered + totals.skipped, 8, 'each repeat and each late event settled with the change that stands');
    assert.equal(totals.skipped, 6, 'the two removes of contacts AC never had (with the events they superseded) settled unsent');
    assert.equal(totals.deadLettered, 3);
    assert.equal(sim.snapshot().counters.importsAccepted, 1, 'one import carried every change (coalesced inside the linger)');
  } finally {
    await dlq.stop();
    await service.stop();
  }
});
