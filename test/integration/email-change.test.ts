import assert from 'node:assert/strict';
import { test } from 'node:test';
import { world } from '../support/world.js';

/**
 * Issue 19, email changes, against the real broker and the simulator: a profile whose email changes keeps its one
 * contact (PUT /contacts/{id}), with its memberships; an email another contact has is dead-lettered EMAIL_TAKEN
 * with both contact ids and no emails.
 */
const w = world({ segments: ['vip', 'news'], simulator: { timeScale: 20 } });

let clock = Date.parse('2026-12-01T12:00:00Z');
const event = (profileId: string, email: string, segmentId: string, op: 'add' | 'remove', firstName?: string) => {
  const occurredAt = (clock += 1_000);
  return {
    key: profileId,
    value: JSON.stringify({
      eventId: `e-${profileId}-${occurredAt}-${segmentId}`,
      occurredAt: new Date(occurredAt).toISOString(),
      segmentId,
      op,
      profile: { id: profileId, email, ...(firstName ? { firstName } : {}) },
    }),
  };
};
const contactsWith = (email: string) => Object.values(w.sim.snapshot().lists).filter((l) => l.members[email]).length;

test('an email change leaves one contact with the new email and the old memberships; a taken email is dead-lettered EMAIL_TAKEN', async () => {
  const topic = await w.topic('email-change');
  const service = await w.service(topic);
  const dlq = await w.reader(`${topic}.dlq`);
  const settle = () => w.committed(service, 'every event to settle');
  await w.produce(topic, [
    event('p-ann', 'ann.old@example.com', 'vip', 'add'),
    event('p-ann', 'ann.old@example.com', 'news', 'add'),
    event('p-bob', 'bob@example.com', 'vip', 'add'),
    event('p-cy', 'cy@example.com', 'vip', 'add'),
  ]);
  await settle();
  const before = w.sim.snapshot();
  const annId = before.lists['1']!.members['ann.old@example.com']!.contactId;
  const contacts = before.contacts;

  // Ann's new email, with another change of hers: it waits for the PUT, then lands on the same contact.
  await w.produce(topic, [event('p-ann', 'ann.new@example.com', 'vip', 'add', 'Ann')]);
  // Bob takes Cy's email: refused.
  await w.produce(topic, [event('p-bob', 'cy@example.com', 'news', 'add')]);
  await settle();

  const s = w.sim.snapshot();
  assert.equal(s.contacts, contacts, 'no second contact was created');
  assert.equal(contactsWith('ann.old@example.com'), 0, 'the old email is on no list');
  assert.equal(s.lists['1']!.members['ann.new@example.com']?.contactId, annId, 'the same contact, with the new email');
  assert.equal(s.lists['1']!.members['ann.new@example.com']?.status, 1);
  assert.equal(s.lists['2']!.members['ann.new@example.com']?.status, 1, 'the old memberships stay with it');
  assert.equal(s.counters.byEndpoint['PUT /contacts/{id}'], 2, 'one PUT for Ann, one refused for Bob');

  await dlq.until(1);
  assert.equal(dlq.records.length, 1, "only Bob's change is dead-lettered");
  const letter = dlq.records[0]!;
  assert.equal(letter.headers?.['dlq.error.code']?.toString(), 'EMAIL_TAKEN');
  const message = letter.headers?.['dlq.error.message']?.toString() ?? '';
  const bobId = s.lists['1']!.members['bob@example.com']!.contactId;
  const cyId = s.lists['1']!.members['cy@example.com']!.contactId;
  assert.match(message, new RegExp(`contact ${cyId}\\b`), 'names the contact that has the email');
  assert.match(message, new RegExp(`contact ${bobId}\\b`), "names the profile's own contact");
  assert.doesNotMatch(message, /@/, 'no email in the message');
  assert.equal(s.lists['2']!.members['cy@example.com'], undefined, "Bob's change did not reach Cy's contact");
  assert.equal(s.lists['1']!.members['bob@example.com']?.status, 1, 'Bob keeps his contact and email');
});
