import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AssignerProtocol } from 'kafkajs';
import { membershipDiff, sampleEvents } from '../../src/dev/sample/events.js';
import { createTopic, eventually, kafka, offsetsCaughtUp, produce, quietLog, readTopic, startService, startSimulator, testConfig, uniqueTopic, type Service, type Simulator } from '../support/harness.js';

/**
 * Two members of one group on a 4-partition topic; one leaves mid-stream (service.stop()). The other takes its
 * partitions over from their committed offsets: nothing is lost, and the group's offsets reach the end.
 */
const segments = ['vip', 'newsletter', 'churn'];
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

/** The group is stable with two members and each was assigned partitions. */
async function bothOwnPartitions(groupId: string): Promise<boolean> {
  const { groups } = await admin.describeGroups([groupId]);
  const members = groups[0]?.state === 'Stable' ? groups[0].members : [];
  return members.length === 2 && members.every((m) => Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().length > 0);
}

type Expected = Map<string, Map<string, 'add' | 'remove'>>;

/** A sample stream over its own profiles (prefix), so chunks never re-subscribe each other's contacts. */
function chunk(expected: Expected, prefix: string, events: number, seed: number) {
  const own: Expected = new Map();
  const messages = [...sampleEvents({ events, profiles: Math.ceil(events / 3), segments, removeRatio: 0.25, reentry: false, seed, start: Date.parse('2026-11-28T10:00:00Z') + seed * 1e6 }, own)].map((e) => ({
    key: `${prefix}${e.key}`,
    value: JSON.stringify({ ...e.value, profile: { ...e.value.profile, id: `${prefix}${e.value.profile.id}`, email: `${prefix}${e.value.profile.email}` } }),
  }));
  for (const [segment, byEmail] of own) {
    const seg = expected.get(segment) ?? new Map<string, 'add' | 'remove'>();
    for (const [email, op] of byEmail) seg.set(`${prefix}${email}`, op);
    expected.set(segment, seg);
  }
  return messages;
}

test('a member leaving mid-stream loses nothing: the other takes its partitions over and offsets reach the end', async () => {
  const topic = uniqueTopic('rebalance');
  await createTopic(admin, topic, 4);
  const expected: Expected = new Map();
  const config = testConfig(topic, sim, segments);
  const services: Service[] = [];
  try {
    const first = await startService(config, { log: quietLog() });
    services.push(first);
    const second = await startService(config, { log: quietLog() });
    services.push(second);
    await eventually(() => bothOwnPartitions(config.kafka.groupId), 'both members to own partitions', 60_000, 500);

    await produce(topic, chunk(expected, 'a-', 3_000, 21));
    await eventually(() => first.ingest.totals.consumed > 0 && second.ingest.totals.consumed > 0, 'both members to consume');

    const before = first.ingest.totals.consumed;
    await produce(topic, chunk(expected, 'b-', 3_000, 22));
    // Mid-stream: the leaving member holds unsettled events of the second chunk (the linger keeps them buffered).
    await eventually(() => first.ingest.totals.consumed > before && first.ingest.pending > 0, 'the leaving member to hold unsettled events', 60_000, 20);
    const { clean } = await first.stop();
    assert.equal(clean, true, 'the leaving member settled what it had before the deadline');

    await produce(topic, chunk(expected, 'c-', 1_000, 23));
    const listOf = (s: string) => String(segments.indexOf(s) + 1);
    await eventually(() => membershipDiff(expected, listOf, (id) => sim.snapshot().lists[id]?.members ?? {}).length === 0, 'every chunk to reach the simulator');
    await eventually(() => offsetsCaughtUp(admin, config.kafka.groupId, topic), 'the group committed offsets to reach the end');

    const total = 7_000;
    const consumed = first.ingest.totals.consumed + second.ingest.totals.consumed;
    assert.ok(consumed >= total, `every event was consumed by some member (${consumed})`);
    assert.ok(consumed < 2 * total, `duplicates stay bounded (${consumed - total} consumed twice)`);
    const lettered = first.ingest.totals.deadLettered + second.ingest.totals.deadLettered;
    const letters = lettered ? (await readTopic(`${topic}.dlq`, lettered, 20_000).catch(() => [])).map((r) => `${r.headers['dlq.error.code']}: ${r.headers['dlq.error.message'] ?? ''}`) : [];
    assert.equal(lettered, 0, `dead letters: ${letters.join(' | ')}`);
    const c = sim.snapshot().counters;
    assert.equal(c.violations, 0, `violations: ${JSON.stringify({ rateLimited429: c.rateLimited429, bulkRateLimited400: c.bulkRateLimited400, overLimitTotal: c.overLimitTotal, importWindows: c.importWindows })}`);
  } finally {
    for (const s of services) await s.stop();
  }
});
