import type { Admin, Kafka } from 'kafkajs';
import { SyncError } from '../domain/errors.js';
import type { From } from './from.js';
import { rangesOf, type PartitionRange } from './plan.js';

/**
 * The Kafka side of planning: the watermarks and the offsets for the --from / --to times, asked once before the
 * replay consumes anything, then the replay group's start positions. The group must have no member yet.
 */
export async function planRanges(
  admin: Admin,
  topics: readonly string[],
  from: From,
  to: number | undefined,
): Promise<PartitionRange[]> {
  const ranges: PartitionRange[] = [];
  for (const topic of topics) {
    const marks = (await admin.fetchTopicOffsets(topic)).map((m) => ({
      partition: m.partition,
      low: Number(m.low),
      high: Number(m.high),
    }));
    const fromTimestamp = from.kind === 'timestamp' ? await offsetsAt(admin, topic, from.at) : undefined;
    const toTimestamp = to === undefined ? undefined : await offsetsAt(admin, topic, to);
    ranges.push(...rangesOf(topic, marks, from, fromTimestamp, toTimestamp));
  }
  return ranges;
}

/** Per partition, the first offset whose Kafka timestamp is at or after `at` (the high watermark if none). */
async function offsetsAt(admin: Admin, topic: string, at: number): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, at);
  return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
}

/**
 * Commits each range's start for the replay group, so its consumer begins exactly there. The same steps as
 * kafkajs's admin.setOffsets (the group must have no running member; a paused member seeks every partition, and
 * the seek commits), with one difference: admin.setOffsets waits for its member's first fetch, which with every
 * partition paused comes only after the default 5 s fetch wait. Here that wait is 100 ms. The wait has a deadline,
 * and a consumer that crashes for good (the broker restarting under its join) ends it at once.
 */
export async function setStartOffsets(
  kafka: Kafka,
  admin: Admin,
  groupId: string,
  ranges: readonly PartitionRange[],
  deadlineMs = 60_000,
): Promise<void> {
  const [group] = (await admin.describeGroups([groupId])).groups;
  if (group && !['Empty', 'Dead'].includes(group.state)) {
    throw new SyncError(
      'GROUP_ACTIVE',
      `replay: consumer group "${groupId}" has running members ` +
        `(state ${group.state}); a replay needs a group nobody else uses`,
      false,
    );
  }
  const topics = [...new Set(ranges.map((r) => r.topic))];
  if (topics.length === 0) return;
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) =>
        reject(new SyncError('START_NOT_SET', `replay: the start offsets could not be set (${why})`, true));
      timer = setTimeout(() => fail(`no fetch within ${deadlineMs / 1000} s`), deadlineMs);
      consumer.on(consumer.events.FETCH, () => void consumer.stop().then(resolve, reject));
      // Even one kafkajs restarts from: the seeks went with the old group, and a fetch would then prove nothing.
      consumer.on(consumer.events.CRASH, (e) => fail(`the consumer crashed: ${e.payload.error.message}`));
      consumer.run({ autoCommit: true, eachBatchAutoResolve: false, eachBatch: async () => undefined }).catch(reject);
      consumer.pause(topics.map((topic) => ({ topic })));
      for (const r of ranges) consumer.seek({ topic: r.topic, partition: r.partition, offset: String(r.start) });
    }).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const r of ranges) {
    const at = committed.find((t) => t.topic === r.topic)?.partitions.find((p) => p.partition === r.partition)?.offset;
    if (Number(at) !== r.start)
      throw new SyncError(
        'START_NOT_SET',
        `replay: the start offset of ${r.topic}/${r.partition} could ` +
          `not be set (${r.start} wanted, ${String(at)} committed)`,
        true,
      );
  }
}
