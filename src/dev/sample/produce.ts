import { Partitioners, type Kafka } from 'kafkajs';
import { ensureTopic } from '../../kafka/topics.js';
import { sampleEvents, type SampleOptions } from './events.js';

export interface ProduceSampleResult {
  produced: number;
  /** True when the topic did not exist and was created here. */
  created: boolean;
  /** segment → email → the last op the events imply. */
  expected: Map<string, Map<string, 'add' | 'remove'>>;
}

/**
 * Writes a deterministic sample stream to `topic`, keyed by profile id (so all events of a contact share a
 * partition), creating the topic with `partitions` partitions when it does not exist yet.
 */
export async function produceSampleEvents(
  kafka: Kafka,
  topic: string,
  partitions: number,
  options: SampleOptions,
): Promise<ProduceSampleResult> {
  const admin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await admin.connect();
    const created = await ensureTopic(admin, topic, partitions);
    await producer.connect();
    const expected: ProduceSampleResult['expected'] = new Map();
    let batch: { key: string; value: string }[] = [];
    let produced = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await producer.send({ topic, messages: batch });
      produced += batch.length;
      batch = [];
    };
    for (const event of sampleEvents(options, expected)) {
      batch.push({ key: event.key, value: JSON.stringify(event.value) });
      if (batch.length === 1_000) await flush();
    }
    await flush();
    return { produced, created, expected };
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
