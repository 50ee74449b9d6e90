import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reasonOf } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The README's edge rules, end to end on one partition (all records arrive in one fetch, inside one linger):
 * tombstones and empty values, binary garbage, a repeated eventId, an older occurredAt after a newer one.
 */
const w = world({ segments: ['vip'], simulator: { timeScale: 20, lists: [{ id: '1', name: 'VIP' }] } });

const change = (eventId: string, email: string, op: 'add' | 'remove', at: string) =>
  JSON.stringify({
    eventId,
    occurredAt: `2026-11-28T10:00:${at}Z`,
    segmentId: 'vip',
    op,
    profile: { id: email.split('@')[0], email },
  });

test('edge rules: tombstones, empty values and garbage are dead-lettered; a repeated eventId is harmless; the newest occurredAt wins in the buffer', async () => {
  const topic = await w.topic('edge');
  await w.produce(topic, [
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
  const service = await w.service(topic, { buffer: { lingerMs: 2_000 } });
  const dlq = await w.reader(`${topic}.dlq`);
  await w.committed(service, 'every record to settle');
  await dlq.until(3);
  assert.deepEqual(dlq.records.map((r) => `${r.key?.toString()} ${reasonOf(r)}`).sort(), [
    'empty decode/EMPTY_VALUE',
    'garbage decode/NOT_UTF8',
    'tomb decode/TOMBSTONE',
  ]);
  assert.equal(
    dlq.records.find((r) => r.key?.toString() === 'tomb')?.value,
    null,
    'a tombstone stays a tombstone in the dead-letter topic',
  );

  const members = w.sim.snapshot().lists['1']!.members;
  assert.equal(members['repeat@example.com']?.status, 1, 'the repeated add subscribed once');
  // Issue 15: the newer remove stands, and since ActiveCampaign never had these contacts it creates none.
  assert.equal(
    members['late@example.com'],
    undefined,
    'the older add did not undo the newer remove (and the remove created no contact)',
  );
  assert.equal(
    members['old@example.com'],
    undefined,
    'the repeat of an old add did not undo the newer remove (no contact created)',
  );

  const totals = service.totals();
  assert.equal(totals.consumed, 11);
  assert.equal(
    totals.delivered + totals.skipped,
    8,
    'each repeat and each late event settled with the change that stands',
  );
  assert.equal(
    totals.skipped,
    6,
    'the two removes of contacts AC never had (with the events they superseded) settled unsent',
  );
  assert.equal(totals.deadLettered, 3);
  assert.equal(
    w.sim.snapshot().counters.importsAccepted,
    1,
    'one import carried every change (coalesced inside the linger)',
  );
});
