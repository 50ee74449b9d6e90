import { Kafka, Partitioners, logLevel, type Admin, type IHeaders } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startService, type Service } from '../../src/service.js';
import { sampleEvents, type SampleOptions } from '../../src/dev/sample/events.js';
import { startSimulator, type Simulator } from '../../packages/ac-simulator/src/index.js';
// Test clients read (and may write) every codec, as the service does.
import '../../src/kafka/codecs.js';

/** Shared pieces of the integration tests: a real broker (KAFKA_BROKERS, set by test/run.ts) and the simulator. */
export function brokers(): string[] {
  const b = process.env.KAFKA_BROKERS;
  if (!b) throw new Error('KAFKA_BROKERS is not set: run the integration tests through `npm test`');
  return b.split(',');
}

export function kafka(): Kafka {
  return new Kafka({ clientId: 'test', brokers: brokers(), logLevel: logLevel.NOTHING });
}

export const quietLog = () => pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let counter = 0;
export const uniqueTopic = (name: string) => `t-${name}-${process.pid}-${Date.now()}-${counter++}`;

export async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
  });
}

/** Produces `messages` (a timestamp or a partition of their own when given) with the default partitioner. */
export async function produce(
  topic: string,
  messages: {
    key: string | null;
    value: string | Buffer | null;
    headers?: Record<string, string>;
    timestamp?: string;
    partition?: number;
  }[],
): Promise<void> {
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0; i < messages.length; i += 2000) await producer.send({ topic, messages: messages.slice(i, i + 2000) });
  await producer.disconnect();
}

/** Produces a sample stream; returns segment → email → expected last op. */
export async function produceSample(
  topic: string,
  o: Partial<SampleOptions> & { events: number; segments: string[] },
): Promise<Map<string, Map<string, 'add' | 'remove'>>> {
  const expected = new Map<string, Map<string, 'add' | 'remove'>>();
  const options: SampleOptions = {
    profiles: Math.ceil(o.events / 3),
    removeRatio: 0.25,
    reentry: false,
    seed: 1,
    start: Date.parse('2026-11-28T10:00:00Z'),
    ...o,
  };
  const messages = [...sampleEvents(options, expected)].map((e) => ({ key: e.key, value: JSON.stringify(e.value) }));
  await produce(topic, messages);
  return expected;
}

/**
 * The one config builder: a config file's content (not parsed) for one topic and a simulator (or an API URL),
 * one list per segment in order ("1", "2", …). `testConfig` is the same content through the real config parser.
 */
export function rawConfig(
  topic: string,
  sim: Pick<Simulator, 'url' | 'options'> | string,
  segments: string[],
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const apiUrl = typeof sim === 'string' ? sim : sim.url;
  const token = typeof sim === 'string' ? 'sim-token' : sim.options.apiToken;
  const timeScale = typeof sim === 'string' ? 1 : sim.options.timeScale;
  return {
    kafka: {
      brokers: brokers(),
      topics: [topic],
      groupId: `${topic}-g`,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 1_000,
      commitIntervalMs: 200,
    },
    connections: { main: { apiUrl, apiKey: { value: token }, privacyAcknowledged: true } },
    exports: segments.map((segmentId, i) => ({
      name: segmentId,
      segmentId,
      connection: 'main',
      listId: String(i + 1),
    })),
    delivery: { timeScale, pollIntervalMs: 500 },
    http: { port: 0 },
    log: { level: 'info' },
    ...overrides,
  };
}

export function testConfig(
  topic: string,
  sim: Pick<Simulator, 'url' | 'options'> | string,
  segments: string[],
  overrides: Record<string, unknown> = {},
): Config {
  return parseConfig(rawConfig(topic, sim, segments, overrides));
}

/** Polls until `check` returns true, or fails with `what` after the deadline. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 120_000,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Committed offsets of a group against the topic's end offsets. */
export async function offsetsCaughtUp(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return ends.every((e) => {
    const c = committed?.partitions.find((p) => p.partition === e.partition);
    return c !== undefined && Number(c.offset) === Number(e.high);
  });
}

export { startService, startSimulator, type Service, type Simulator };

/** One record read back from a topic; key and headers decoded to strings. */
export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** A live reader: `records` grows as they arrive, until stopped. */
export interface TopicReader {
  readonly records: ReadRecord[];
  /** Resolves with `records` once at least `count` arrived (fails after the timeout). */
  until(count: number, timeoutMs?: number): Promise<ReadRecord[]>;
  /** Idempotent. */
  stop(): Promise<void>;
}

/**
 * The one topic reader, from the beginning, with a consumer group of its own. `readTopic(topic)` hands out the
 * live reader; `readTopic(topic, count)` reads until `count` records arrived, stops, and returns them.
 */
export function readTopic(topic: string): Promise<TopicReader>;
export function readTopic(topic: string, count: number, timeoutMs?: number): Promise<ReadRecord[]>;
export async function readTopic(
  topic: string,
  count?: number,
  timeoutMs = 60_000,
): Promise<TopicReader | ReadRecord[]> {
  const consumer = kafka().consumer({
    groupId: `reader-${topic}-${process.pid}-${Date.now()}-${counter++}`,
    sessionTimeout: 6_000,
    heartbeatInterval: 1_000,
  });
  const records: ReadRecord[] = [];
  await consumer.connect();
  let stopped: Promise<void> | undefined;
  const reader: TopicReader = {
    records,
    async until(n, ms = 60_000) {
      await eventually(() => records.length >= n, `${n} records on ${topic} (have ${records.length})`, ms);
      return records;
    },
    stop: () => (stopped ??= consumer.disconnect()),
  };
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        records.push({
          partition,
          offset: Number(message.offset),
          key: message.key?.toString() ?? null,
          value: message.value,
          headers: decodeHeaders(message.headers),
        });
      },
    });
  } catch (err) {
    await reader.stop();
    throw err;
  }
  if (count === undefined) return reader;
  try {
    return await reader.until(count, timeoutMs);
  } finally {
    await reader.stop();
  }
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = (Array.isArray(v) ? v[0] : v)?.toString() ?? '';
  }
  return out;
}

/** "stage/code" of a dead letter, e.g. "decode/NOT_JSON". */
export const reasonOf = (r: ReadRecord) => `${r.headers[DLQ_HEADERS.stage]}/${r.headers[DLQ_HEADERS.code]}`;
