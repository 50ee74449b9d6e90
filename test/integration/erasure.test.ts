import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTopic, eventually, kafka, offsetsCaughtUp, produce, quietLog, startService, startSimulator, testConfig, uniqueTopic, type Simulator } from '../support/harness.js';

/**
 * Issue 18 against the real broker and the simulator: an erasure request (`op: "erase"`) deletes the person's
 * contact, a replay of their older events does not bring it back, an import in the air is not overtaken by the
 * delete, and a change occurring after the erasure subscribes the person again.
 */
const admin = kafka().admin();
const sims: Simulator[] = [];
before(() => admin.connect());
after(async () => {
  for (const s of sims) await s.close();
  await admin.disconnect();
});

async function sim(options: Record<string, unknown> = {}): Promise<Simulator> {
  const s = await startSimulator({ timeScale: 20, limits: { enabled: false }, lists: [{ id: '1', name: 'L1' }], ...options });
  sims.push(s);
  return s;
}

const T0 = Date.parse('2026-11-28T10:00:00Z');
/** An event of profile `id` (the record key, as upstream keys them) at T0 + `at` seconds. */
const event = (email: string, op: 'add' | 'remove' | 'erase', at: number, id = email.split('@')[0]!) => ({
  key: id,
  value: JSON.stringify({ eventId: `e-${id}-${op}-${at}`, occurredAt: new Date(T0 + at * 1000).toISOString(), segmentId: 'vip', op, profile: { id, email } }),
});

const member = (s: Simulator, email: string) => s.snapshot().lists['1']!.members[email];

test('an erasure arriving while an import for the person is in the air waits for it: the contact is not re-created', async () => {
  // Imports stay active for 40 s of simulated time (2 s at scale 20): long enough for the erasure to arrive meanwhile.
  const s = await sim({ importDelaysMs: { active: 40_000 } });
  const topic = uniqueTopic('erase-inflight');
  await createTopic(admin, topic, 1);
  const config = testConfig(topic, s, ['vip']);
  const service = await startService(config, { log: quietLog() });
  try {
    await produce(topic, [event('cy@example.com', 'add', 1), event('dee@example.com', 'add', 1)]);
    await eventually(() => s.snapshot().counters.importsAccepted >= 1, 'the import to be accepted', 60_000, 20);
    assert.equal(member(s, 'cy@example.com'), undefined, 'the import is still in the air when the erasure is produced');
    await produce(topic, [event('cy@example.com', 'erase', 2)]);
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'every event to settle');
    assert.equal(member(s, 'cy@example.com'), undefined, 'the contact was deleted after the import applied, not before');
    assert.equal(s.snapshot().counters.contactsDeleted, 1);
    assert.equal(member(s, 'dee@example.com')?.status, 1);
  } finally {
    await service.stop();
  }
});
