import type { Stage } from '../domain/errors.js';
import type { SourceMessage } from '../ingest/source.js';

/**
 * A dead-letter record: the source key, value and headers unchanged, plus the headers below
 * (schemas/dead-letter-headers.json describes them). Values are UTF-8 strings.
 */
export const DLQ_HEADERS = {
  topic: 'dlq.source.topic',
  partition: 'dlq.source.partition',
  offset: 'dlq.source.offset',
  timestamp: 'dlq.source.timestamp',
  export: 'dlq.export',
  stage: 'dlq.stage',
  code: 'dlq.error.code',
  message: 'dlq.error.message',
  attempts: 'dlq.attempts',
  failedAt: 'dlq.failed.at',
} as const;

export interface DeadLetter {
  message: SourceMessage;
  exportName: string | undefined;
  stage: Stage;
  code: string;
  reason: string;
  attempts: number;
}

export interface OutgoingRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string>;
  timestamp?: string;
}

export function toDeadLetterRecord(d: DeadLetter, now: number): OutgoingRecord {
  const headers: Record<string, Buffer | string> = {};
  for (const [k, v] of Object.entries(d.message.headers)) if (v !== undefined) headers[k] = v;
  headers[DLQ_HEADERS.topic] = d.message.topic;
  headers[DLQ_HEADERS.partition] = String(d.message.partition);
  headers[DLQ_HEADERS.offset] = String(d.message.offset);
  headers[DLQ_HEADERS.timestamp] = new Date(d.message.timestamp).toISOString();
  if (d.exportName) headers[DLQ_HEADERS.export] = d.exportName;
  headers[DLQ_HEADERS.stage] = d.stage;
  headers[DLQ_HEADERS.code] = d.code;
  headers[DLQ_HEADERS.message] = d.reason.slice(0, 1000);
  headers[DLQ_HEADERS.attempts] = String(d.attempts);
  headers[DLQ_HEADERS.failedAt] = new Date(now).toISOString();
  return { key: d.message.key, value: d.message.value, headers };
}

export function dlqTopicFor(topic: string, template: string): string {
  return template.replace('{topic}', topic);
}
