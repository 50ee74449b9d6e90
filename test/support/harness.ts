import { Kafka, Partitioners, logLevel, type Admin } from 'kafkajs';
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
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
}

export async function produce(topic: string, messages: { key: string | null; value: string | Buffer | null; headers?: Record<string, string> }[]): Promise<void> {
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0; i < messages.length; i += 2000) await producer.send({ topic, messages: messages.slice(i, i + 2000) });
  await producer.disconnect();
}

/** Produces a sample stream; returns segment → email → expected last op. */
export async function produceSample(topic: string, o: Partial<SampleOptions> & { events: number; segments: string[] }): Promise<Map<string, Map<string, 'add' | 'remove'>>> {
  const expected = new Map<string, Map<string, 'add' | 'remove'>>();
  const options: SampleOptions = { profiles: Math.ceil(o.events / 3), removeRatio: 0.25, reentry: false, seed: 1, start: Date.parse('2026-11-28T10:00:00Z'), ...o };
  const messages = [...sampleEvents(options, expected)].map((e) => ({ key: e.key, value: JSON.stringify(e.value) }));
  await produce(topic, messages);
  return expected;
}

export function testConfig(topic: string, sim: Simulator, segments: string[], overrides: Record<string, unknown> = {}): Config {
  return parseConfig({
    kafka: { brokers: brokers(), topics: [topic], groupId: `${topic}-g`, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000, commitIntervalMs: 200 },
    connections: { main: { apiUrl: sim.url, apiKey: { value: sim.options.apiToken }, privacyAcknowledged: true } },
    exports: segments.map((segmentId, i) => ({ name: segmentId, segmentId, connection: 'main', listId: String(i + 1) })),
    delivery: { timeScale: sim.options.timeScale, pollIntervalMs: 500 },
    http: { port: 0 },
    ...overrides,
  });
}

/** Polls until `check` returns true, or fails with `what` after the deadline. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000, everyMs = 200): Promise<void> {
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

export interface ReadRecord {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  partition: number;
  offset: number;
}

/** Reads a topic from the beginning until `count` records arrived (or fails after the timeout). */
export async function readTopic(topic: string, count: number, timeoutMs = 60_000): Promise<ReadRecord[]> {
  const consumer = kafka().consumer({ groupId: `reader-${topic}-${Date.now()}-${counter++}`, sessionTimeout: 6_000 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
        records.push({ key: message.key?.toString() ?? null, value: message.value, headers, partition, offset: Number(message.offset) });
      },
    });
    await eventually(() => records.length >= count, `${count} records on ${topic} (have ${records.length})`, timeoutMs);
  } finally {
    await consumer.disconnect();
  }
  return records;
}
