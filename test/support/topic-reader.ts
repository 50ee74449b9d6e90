import type { IHeaders } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { kafka } from './harness.js';

/** One record read back from a topic, headers decoded to strings. */
export interface ReadRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface TopicReader {
  readonly records: ReadRecord[];
  stop(): Promise<void>;
}

/** Reads a topic from the beginning into `records` until stopped (a consumer group of its own). */
export async function readTopic(topic: string): Promise<TopicReader> {
  const consumer = kafka().consumer({ groupId: `reader-${topic}-${process.pid}-${Date.now()}`, sessionTimeout: 6_000, heartbeatInterval: 1_000 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      records.push({ partition, offset: Number(message.offset), key: message.key, value: message.value, headers: decodeHeaders(message.headers) });
    },
  });
  let stopped: Promise<void> | undefined;
  return { records, stop: () => (stopped ??= consumer.disconnect()) };
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
