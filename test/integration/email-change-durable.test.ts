import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { decodeProfile, isProfileKey } from '../../src/ledger/profiles.js';
import type { Service, TopicReader } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Issue 19, the durable email-change map, against the real broker and the simulator: the contact of a profile
 * is recorded in the ledger topic (hashes only), so an email change made by another process (after a restart, or
 * by the member a rebalance moved the profile's partition to) still lands on the one contact, with the old
 * memberships, and leaves the old email on no list.
 */
const { AssignerProtocol } = kafkajs;
const w = world({ segments: ['vip', 'news'], simulator: { timeScale: 20 } });

let clock = Date.parse('2026-12-01T12:00:00Z');
/** One event of a profile, on the partition given (all of a profile's events share one, as upstream keying does). */
async function produce(
  topic: string,
  partition: number,
  profileId: string,
  email: string,
  segmentId: string,
  firstName?: string,
): Promise<void> {
  const producer = await w.producer();
  const occurredAt = (clock += 1_000);
  const value = JSON.stringify({
    eventId: `e-${profileId}-${occurredAt}`,
    occurredAt: new Date(occurredAt).toISOString(),
    segmentId,
    op: 'add',
    profile: { id: profileId, email, ...(firstName ? { firstName } : {}) },
  });
  await producer.send({ topic, acks: -1, messages: [{ key: profileId, value, partition }] });
}

const member = (email: string) =>
  Object.entries(w.sim.snapshot().lists)
    .filter(([, l]) => l.members[email])
    .map(([id, l]) => [id, l.members[email]!.contactId, l.members[email]!.status] as const);
const onNoList = (email: string) => Object.values(w.sim.snapshot().lists).every((l) => !l.members[email]);

/** Profile records of the ledger topic holding a contact id, per partition; and none of them holds an email or a profile id. */
function recordedContacts(ledger: TopicReader): Map<number, number> {
  const byPartition = new Map<number, number>();
  for (const r of ledger.records) {
    const key = r.key?.toString() ?? '';
    if (!isProfileKey(key)) continue;
    assert.doesNotMatch(`${key} ${r.value?.toString() ?? ''}`, /@|p-(ann|dan)/, 'a profile record holds hashes only');
    if (r.value && decodeProfile(r.value)?.contactId)
      byPartition.set(r.partition, (byPartition.get(r.partition) ?? 0) + 1);
  }
  return byPartition;
}

/** The partitions each member of the group holds (from the group's assignment). */
async function assignment(groupId: string, topic: string): Promise<number[][]> {
  const group = (await w.admin.describeGroups([groupId])).groups[0];
  if (group?.state !== 'Stable') return [];
  return group.members.map(
    (m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [],
  );
}

/** Profiles whose email change main's PUT took (ac_list_sync_email_changes_total, result changed). */
async function emailsChanged(s: Service): Promise<number> {
  return (
    (await s.metrics.emailChanges.get()).values.find(
      (v) => v.labels.connection === 'main' && v.labels.result === 'changed',
    )?.value ?? 0
  );
}

test('an email change after a restart still finds the contact: one contact, the new email, the old memberships', async () => {
  const topic = await w.topic('email-restart');
  const config = w.config(topic, {
    delivery: { timeScale: w.sim.options.timeScale, pollIntervalMs: 500, profileLookupsPerSecond: 5 },
  });
  const settle = () => w.committed(config, 'every event to settle');
  const first = await w.start(config);
  const ledger = await w.reader(`${topic}.ledger`);
  await produce(topic, 0, 'p-ann', 'ann.old@example.com', 'vip');
  await produce(topic, 0, 'p-ann', 'ann.old@example.com', 'news');
  await settle();
  await w.until(() => recordedContacts(ledger).get(0) === 1, "Ann's contact id recorded in the ledger");
  const annId = member('ann.old@example.com')[0]![1];
  const contacts = w.sim.snapshot().contacts;
  assert.equal((await first.stop()).clean, true);

  // A new process on the same group and ledger: it has never seen Ann's old email.
  const second = await w.start(config);
  await produce(topic, 0, 'p-ann', 'ann.new@example.com', 'vip', 'Ann');
  await settle();
  // Settled means the held change was confirmed, so the PUT had answered before it went.
  assert.equal(w.sim.snapshot().contacts, contacts, 'no second contact');
  assert.equal(await emailsChanged(second), 1, 'the email change, made by the new process');
  assert.deepEqual(
    member('ann.new@example.com'),
    [
      ['1', annId, 1],
      ['2', annId, 1],
    ],
    'the same contact, with both old memberships',
  );
  assert.equal(onNoList('ann.old@example.com'), true, 'the old email is on no list');
  assert.equal(w.sim.snapshot().counters.byEndpoint['PUT /contacts/{id}'], 1);
});

test("an email change after the profile's partition moved to another member finds the contact there", async () => {
  const topic = await w.topic('email-rebalance', 2);
  const config = w.config(topic, {
    delivery: { timeScale: w.sim.options.timeScale, pollIntervalMs: 500, profileLookupsPerSecond: 5 },
  });
  const settle = () => w.committed(config, 'every event to settle');
  const services: Service[] = [await w.start(config)];
  const ledger = await w.reader(`${topic}.ledger`);
  const puts = w.sim.snapshot().counters.byEndpoint['PUT /contacts/{id}'] ?? 0;
  // One profile per partition; the first member owns both and learns both contacts.
  for (const [partition, profileId, email] of [
    [0, 'p-ann', 'ann.r@example.com'],
    [1, 'p-dan', 'dan.r@example.com'],
  ] as const) {
    await produce(topic, partition, profileId, email, 'vip');
    await produce(topic, partition, profileId, email, 'news');
  }
  await settle();
  await w.until(
    () => recordedContacts(ledger).get(0) === 1 && recordedContacts(ledger).get(1) === 1,
    'both contact ids recorded in the ledger',
  );
  const ids = { ann: member('ann.r@example.com')[0]![1], dan: member('dan.r@example.com')[0]![1] };
  const contacts = w.sim.snapshot().contacts;

  // A second member joins: one of the two partitions moves to it, and it restores that partition's ledger.
  services.push(await w.start(config));
  await w.until(
    async () => (await assignment(config.kafka.groupId, topic)).map((p) => p.length).join() === '1,1',
    'one partition per member',
  );

  await produce(topic, 0, 'p-ann', 'ann.r2@example.com', 'vip', 'Ann');
  await produce(topic, 1, 'p-dan', 'dan.r2@example.com', 'vip', 'Dan');
  await settle();
  assert.equal(w.sim.snapshot().contacts, contacts, 'no second contact');
  assert.deepEqual(
    await Promise.all(services.map(emailsChanged)),
    [1, 1],
    'one email change on each member (the moved partition on the new one)',
  );
  assert.deepEqual(member('ann.r2@example.com'), [
    ['1', ids.ann, 1],
    ['2', ids.ann, 1],
  ]);
  assert.deepEqual(member('dan.r2@example.com'), [
    ['1', ids.dan, 1],
    ['2', ids.dan, 1],
  ]);
  assert.equal(onNoList('ann.r@example.com') && onNoList('dan.r@example.com'), true, 'the old emails are on no list');
  assert.equal(w.sim.snapshot().counters.byEndpoint['PUT /contacts/{id}']! - puts, 2);
});
