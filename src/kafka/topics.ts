import type { Admin } from 'kafkajs';

/**
 * Creates a topic if it does not exist (RF 1 on a single broker, up to 3 otherwise) and waits until it has leaders.
 * A broker that has just started answers "does not host this topic-partition" for a moment: retried, not fatal.
 */
export async function ensureTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  configEntries: Record<string, string> = {},
): Promise<boolean> {
  let created = false;
  for (let attempt = 1; ; attempt++) {
    try {
      if (!(await admin.listTopics()).includes(topic)) {
        const brokers = (await admin.describeCluster()).brokers.length;
        const entries = Object.entries(configEntries).map(([name, value]) => ({ name, value }));
        created =
          (await admin.createTopics({
            waitForLeaders: true,
            topics: [
              { topic, numPartitions: partitions, replicationFactor: Math.min(3, brokers), configEntries: entries },
            ],
          })) || created;
      }
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      if (meta.topics[0]?.partitions.every((p) => p.leader >= 0)) return created;
      throw Object.assign(new Error(`topic ${topic} has no leader yet`), { retriable: true });
    } catch (err) {
      const message = String((err as Error).message);
      if (/already exists/i.test(message)) continue;
      const retriable =
        (err as { retriable?: boolean }).retriable === true || /does not host|leader|not available/i.test(message);
      if (!retriable || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * attempt)));
    }
  }
}

/** Partition count of a topic, or undefined when it does not exist. */
export async function partitionCount(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    return meta.topics[0]?.partitions.length;
  } catch {
    return undefined;
  }
}
