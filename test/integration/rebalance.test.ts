import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssignerProtocol } from 'kafkajs';
import { sampleEvents } from '../../src/dev/sample/events.js';
import { world } from '../support/world.js';

/**
 * Two members of one group on a 4-partition topic; one leaves mid-stream (service.stop()). The other takes its
 * partitions over from their committed offsets: nothing is lost, and the group's offsets reach the end.
 */
const segments = ['vip', 'newsletter', 'churn'];
const w = world({ segments, simulator: { timeScale: 20 } });

/** The group is stable with two members and each was assigned partitions. */
async function bothOwnPartitions(groupId: string): Promise<boolean> {
  const { groups } = await w.admin.describeGroups([groupId]);
  const members = groups[0]?.state === 'Stable' ? groups[0].members : [];
  return (
    members.length === 2 &&
    members.every(
      (m) =>
        Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().length > 0,
    )
  );
}

type Expected = Map<string, Map<string, 'add' | 'remove'>>;

/** A sample stream over its own profiles (prefix), so chunks never re-subscribe each other's contacts. */
function chunk(expected: Expected, prefix: string, events: number, seed: number) {
  const own: Expected = new Map();
  const messages = [
    ...sampleEvents(
      {
        events,
        profiles: Math.ceil(events / 3),
        segments,
        removeRatio: 0.25,
        reentry: false,
        seed,
        start: Date.parse('2026-11-28T10:00:00Z') + seed * 1e6,
      },
      own,
    ),
  ].map((e) => ({
    key: `${prefix}${e.key}`,
    value: JSON.stringify({
      ...e.value,
      profile: { ...e.value.profile, id: `${prefix}${e.value.profile.id}`, email: `${prefix}${e.value.profile.email}` },
    }),
  }));
  for (const [segment, byEmail] of own) {
    const seg = expected.get(segment) ?? new Map<string, 'add' | 'remove'>();
    for (const [email, op] of byEmail) seg.set(`${prefix}${email}`, op);
    expected.set(segment, seg);
  }
  return messages;
}

test('a member leaving mid-stream loses nothing: the other takes its partitions over and offsets reach the end', async () => {
  const topic = await w.topic('rebalance', 4);
  const expected: Expected = new Map();
  const config = w.config(topic);
  const first = await w.start(config);
  const second = await w.start(config);
  await w.until(() => bothOwnPartitions(config.kafka.groupId), 'both members to own partitions', 60_000, 500);

  await w.produce(topic, chunk(expected, 'a-', 3_000, 21));
  await w.until(() => first.totals().consumed > 0 && second.totals().consumed > 0, 'both members to consume');

  const before = first.totals().consumed;
  await w.produce(topic, chunk(expected, 'b-', 3_000, 22));
  // Mid-stream: the leaving member holds unsettled events of the second chunk (the linger keeps them buffered).
  await w.until(
    () => first.totals().consumed > before && first.pending() > 0,
    'the leaving member to hold unsettled events',
    60_000,
    20,
  );
  const { clean } = await first.stop();
  assert.equal(clean, true, 'the leaving member settled what it had before the deadline');

  await w.produce(topic, chunk(expected, 'c-', 1_000, 23));
  await w.membership(expected, 'every chunk to reach the simulator');
  await w.committed(config, 'the group committed offsets to reach the end');

  const total = 7_000;
  const consumed = first.totals().consumed + second.totals().consumed;
  assert.ok(consumed >= total, `every event was consumed by some member (${consumed})`);
  assert.ok(consumed < 2 * total, `duplicates stay bounded (${consumed - total} consumed twice)`);
  const lettered = first.totals().deadLettered + second.totals().deadLettered;
  const letters = lettered
    ? (await w.deadLetters(topic, lettered, 20_000).catch(() => [])).map(
        (r) => `${r.headers['dlq.error.code']}: ${r.headers['dlq.error.message'] ?? ''}`,
      )
    : [];
  assert.equal(lettered, 0, `dead letters: ${letters.join(' | ')}`);
  const c = w.sim.snapshot().counters;
  assert.equal(
    c.violations,
    0,
    `violations: ${JSON.stringify({ rateLimited429: c.rateLimited429, bulkRateLimited400: c.bulkRateLimited400, overLimitTotal: c.overLimitTotal, importWindows: c.importWindows })}`,
  );
});
