import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { SyncError } from '../domain/errors.js';
import { createKafka } from '../kafka/client.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { recordBytes } from '../kafka/record-size.js';
import { partitionCount } from '../kafka/topics.js';
import { dlqTopicFor } from './envelope.js';
import { DeadLetterTally, type Group } from './inspect.js';
import { matches, republish, type DeadLetterFilter } from './republish.js';

/**
 * The Kafka side of `dlq inspect` and `dlq replay`: each reads the dead-letter topics up to the end offsets they
 * have when it starts (never what it writes itself), with a throwaway consumer group named after the live one.
 */
export interface InspectResult {
  topic: string;
  exists: boolean;
  total: number;
  groups: Group[];
}

export interface ReplayResult {
  topic: string;
  exists: boolean;
  read: number;
  matched: number;
  /** Re-published records per source topic. */
  republished: Record<string, number>;
  /** Matching records not re-published, by reason. */
  skipped: Record<string, number>;
}

/** The dead-letter topics of the configured source topics (or of one of them). */
export function deadLetterTopics(config: Config, topic?: string): string[] {
  if (topic !== undefined && !config.kafka.topics.includes(topic)) {
    throw new SyncError(
      'USAGE',
      `dlq: --topic ${topic} is not one of kafka.topics (${config.kafka.topics.join(', ')})`,
      false,
    );
  }
  const sources = topic !== undefined ? [topic] : config.kafka.topics;
  return [...new Set(sources.map((t) => dlqTopicFor(t, config.deadLetter.topic)))];
}

export async function inspectDeadLetters(config: Config, log: Logger, topic?: string): Promise<InspectResult[]> {
  return withKafka(config, log, async (kafka, admin) => {
    const out: InspectResult[] = [];
    for (const dlq of deadLetterTopics(config, topic)) {
      if (!(await exists(admin, dlq))) {
        out.push({ topic: dlq, exists: false, total: 0, groups: [] });
        continue;
      }
      const tally = new DeadLetterTally();
      await readToEnd(kafka, admin, dlq, (r) => tally.add(r), { groupPrefix: `${config.kafka.groupId}.dlq-inspect` });
      out.push({ topic: dlq, exists: true, total: tally.total, groups: tally.report() });
    }
    return out;
  });
}

/**
 * Re-publishes the matching dead letters to their source topics (only to topics of kafka.topics), in order
 * per dead-letter partition, acknowledged by all in-sync replicas. With `dryRun` nothing is written.
 */
export async function replayDeadLetters(
  config: Config,
  log: Logger,
  filter: DeadLetterFilter,
  opts: { topic?: string; dryRun?: boolean; now?: () => number } = {},
): Promise<ReplayResult[]> {
  const now = opts.now ?? Date.now;
  return withKafka(config, log, async (kafka, admin) => {
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const out: ReplayResult[] = [];
      const partitions = new Map<string, number | undefined>();
      for (const t of config.kafka.topics) partitions.set(t, await partitionCount(admin, t));
      for (const dlq of deadLetterTopics(config, opts.topic)) {
        const result: ReplayResult = {
          topic: dlq,
          exists: await exists(admin, dlq),
          read: 0,
          matched: 0,
          republished: {},
          skipped: {},
        };
        out.push(result);
        if (!result.exists) continue;
        const pending: { topic: string; message: Message }[] = [];
        // Requests stay well under a topic's default max.message.bytes (1 MiB): a large letter goes nearly alone.
        let pendingBytes = 0;
        const flush = () => {
          pendingBytes = 0;
          return send(producer, pending.splice(0), opts.dryRun === true);
        };
        result.read = await readToEnd(
          kafka,
          admin,
          dlq,
          async (r) => {
            if (!matches(r, filter)) return;
            result.matched++;
            const again = republish(r, now());
            const skip = (reason: string) => (result.skipped[reason] = (result.skipped[reason] ?? 0) + 1);
            if ('skip' in again) return void skip(again.skip);
            if (!partitions.has(again.topic))
              return void skip(`source topic ${again.topic} is not one of kafka.topics`);
            const count = partitions.get(again.topic) ?? 0;
            const partition = again.partition !== undefined && again.partition < count ? again.partition : undefined;
            const bytes = recordBytes({ key: again.key, value: again.value, headers: again.headers });
            if (pending.length >= 500 || (pending.length > 0 && pendingBytes + bytes > 512 * 1024)) await flush();
            pending.push({
              topic: again.topic,
              message: {
                key: again.key,
                value: again.value,
                headers: again.headers,
                ...(partition !== undefined ? { partition } : {}),
              },
            });
            pendingBytes += bytes;
            result.republished[again.topic] = (result.republished[again.topic] ?? 0) + 1;
          },
          { groupPrefix: `${config.kafka.groupId}.dlq-replay` },
        );
        await flush();
        log.info(
          {
            dlq,
            read: result.read,
            matched: result.matched,
            republished: result.republished,
            skipped: result.skipped,
            dryRun: opts.dryRun === true,
          },
          'Dead letters re-published to their source topics',
        );
      }
      return out;
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  });
}

async function send(producer: Producer, batch: { topic: string; message: Message }[], dryRun: boolean): Promise<void> {
  if (batch.length === 0 || dryRun) return;
  const byTopic = new Map<string, Message[]>();
  for (const { topic, message } of batch) byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
  await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
}

async function exists(admin: Admin, topic: string): Promise<boolean> {
  return (await admin.listTopics()).includes(topic);
}

async function withKafka<T>(config: Config, log: Logger, fn: (kafka: Kafka, admin: Admin) => Promise<T>): Promise<T> {
  const kafka = createKafka(config.kafka, log.child({ module: 'kafka' }), '-dlq');
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(kafka, admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
