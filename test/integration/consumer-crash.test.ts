import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs, { type Consumer, type PartitionAssigner } from 'kafkajs';
import { waitForLog } from '../support/cli.js';
import { kafka } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * A consumer crash that kafkajs does not restart from ends the process: exit 5, one line saying why, and no
 * commit after the crash. The crash is a real one: another member of the group, the group's leader, hands the
 * service an assignment it cannot read (kafkajs's decoder fails with a RangeError, which kafkajs never retries).
 */
const { AssignerProtocol } = kafkajs;
const w = world({ segments: ['vip'], simulator: { timeScale: 5 } });

const event = (i: number) => ({
  key: `p${i}`,
  value: JSON.stringify({
    eventId: `e${i}`,
    occurredAt: '2026-11-28T10:00:00Z',
    segmentId: 'vip',
    op: 'add',
    profile: { id: `p${i}`, email: `crash${i}@example.com` },
  }),
});

/**
 * The protocol the service speaks (kafkajs's RoundRobinAssigner, by name), so this member can join its group. As
 * leader it gives every partition to the service's members (clientId ac-list-sync), or, once `garbage()` returns
 * true, bytes that are no member assignment.
 */
function leaderAssigner(topic: string, partitions: number[], garbage: () => boolean): PartitionAssigner {
  return () => ({
    name: 'RoundRobinAssigner',
    version: 0,
    async assign({ members }) {
      return members.map(({ memberId }) => {
        const service = memberId.startsWith('ac-list-sync');
        const assignment = service ? { [topic]: partitions } : {};
        // A version, then an array of 2^31-1 topics in a 6-byte buffer.
        const unreadable = Buffer.from([0x00, 0x00, 0x7f, 0xff, 0xff, 0xff]);
        return {
          memberId,
          memberAssignment:
            service && garbage()
              ? unreadable
              : AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }),
        };
      });
    },
    protocol({ topics }) {
      return {
        name: 'RoundRobinAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}

async function committed(groupId: string, topic: string): Promise<Record<number, string>> {
  const [offsets] = await w.admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries((offsets?.partitions ?? []).map((p) => [p.partition, p.offset]));
}

/** A member of the group that consumes nothing; `joined` resolves once it is in the group. */
async function member(
  groupId: string,
  topic: string,
  assigner: PartitionAssigner,
): Promise<{ consumer: Consumer; joined: Promise<void> }> {
  const consumer = kafka().consumer({
    groupId,
    partitionAssigners: [assigner],
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
  });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  await consumer.run({ eachBatch: async () => undefined });
  return { consumer, joined };
}

// The timeout only turns a process that never exits (the old silent stall) into a failure instead of a hang.
test('a non-retriable consumer crash exits 5 with a one-line reason and commits nothing after it', {
  timeout: 180_000,
}, async () => {
  const topic = await w.topic('consumer-crash', 2);
  const groupId = `${topic}-g`;
  await w.produce(
    topic,
    Array.from({ length: 40 }, (_, i) => event(i)),
  );

  let garbage = false;
  const assigner = leaderAssigner(topic, [0, 1], () => garbage);
  // The first member of an empty group is its leader, and stays leader through later rebalances.
  const leader = await member(groupId, topic, assigner);
  await leader.joined;
  let newcomer: Consumer | undefined;
  const file = w.configFile(topic, { log: { level: 'info' } });
  const service = w.cli(['run', '--config', file]);
  w.defer(async () => {
    w.sim.configure({ unavailable: false });
    await newcomer?.disconnect();
    await leader.consumer.disconnect();
  });
  await waitForLog(service, 'The sync is running');
  await w.committed(w.config(topic), 'the first events to be delivered and committed');
  const before = await committed(groupId, topic);

  // More events, held unsettled by an account outage: a drain or a final commit would move the offsets.
  w.sim.configure({ unavailable: true });
  await w.produce(
    topic,
    Array.from({ length: 40 }, (_, i) => event(100 + i)),
  );
  await w.until(
    () => w.sim.snapshot().counters.unavailable503 > 0,
    'the service to meet the outage with the new events',
  );

  // A new member makes the group rebalance; the leader's next assignment is unreadable for the service.
  garbage = true;
  newcomer = (await member(groupId, topic, assigner)).consumer;
  const exit = await service.exited;
  w.sim.configure({ unavailable: false });
  assert.deepEqual(exit, { code: 5, signal: null }, service.stderr.slice(-5).join('\n'));

  const reasons = service.stderr.filter((l) =>
    l.includes('Exiting: the Kafka consumer crashed on a non-retriable error'),
  );
  assert.equal(reasons.length, 1, `one line gives the reason:\n${service.stderr.slice(-5).join('\n')}`);
  const line = JSON.parse(reasons[0]!) as { level: number; msg: string };
  assert.match(
    line.msg,
    /KafkaJSNonRetriableError: The value of "offset" is out of range/,
    'the reason is the decoding error',
  );
  assert.equal(line.level, 60, 'logged at fatal');
  assert.deepEqual(await committed(groupId, topic), before, 'no commit after the crash');
  assert.equal(
    w.sim.snapshot().lists['1']?.members['crash100@example.com'],
    undefined,
    'the held events were not delivered on the way out',
  );
});
