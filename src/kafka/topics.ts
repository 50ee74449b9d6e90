import type { Admin } from 'kafkajs';

/** Creates a topic if it does not exist (RF 1 on a single broker, else the broker default). */
export async function ensureTopic(admin: Admin, topic: string, partitions: number, configEntries: Record<string, string> = {}): Promise<boolean> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return false;
  const brokers = (await admin.describeCluster()).brokers.length;
  try {
    return await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: partitions, replicationFactor: Math.min(3, brokers), configEntries: Object.entries(configEntries).map(([name, value]) => ({ name, value })) }],
    });
  } catch (err) {
    if (/already exists/i.test(String((err as Error).message))) return false;
    throw err;
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
