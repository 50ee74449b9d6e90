import type { Admin } from 'kafkajs';
import type { From } from './from.js';
import { rangesOf, type PartitionRange } from './plan.js';

/**
 * The Kafka side of planning: the watermarks and the offsets for the --from / --to times, asked once before the
 * replay consumes anything, then the replay group's start positions. The group must have no member yet.
 */
export async function planRanges(admin: Admin, topics: readonly string[], from: From, to: number | undefined): Promise<PartitionRange[]> {
  const ranges: PartitionRange[] = [];
  for (const topic of topics) {
    const marks = (await admin.fetchTopicOffsets(topic)).map((m) => ({ partition: m.partition, low: Number(m.low), high: Number(m.high) }));
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

/** Commits each range's start for the replay group, so its consumer begins exactly there. */
export async function setStartOffsets(admin: Admin, groupId: string, ranges: readonly PartitionRange[]): Promise<void> {
  const byTopic = new Map<string, PartitionRange[]>();
  for (const r of ranges) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
  for (const [topic, rs] of byTopic) {
    await admin.setOffsets({ groupId, topic, partitions: rs.map((r) => ({ partition: r.partition, offset: String(r.start) })) });
  }
}
