import type { Admin, Kafka, Producer } from 'kafkajs';
import { PersonHasher } from '../ledger/erasure.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { secretReader } from '../config/secret.js';
import type { DeliveryGate } from '../deliver/outcomes.js';
import { compressionType } from '../kafka/codecs.js';
import type { Metrics } from '../observability/metrics.js';
import { consentGate } from './gate.js';
import { startWebhookServer } from './server.js';
import { ConsentTopic } from './topic.js';

export interface ConsentParts {
  /** The port the webhook listens on. */
  readonly port: number;
  /** The delivery gate that also asks the opt-outs. */
  gate<R>(inner: DeliveryGate<R>): DeliveryGate<R>;
  /** Stops the webhook first (nothing new arrives), then writes what is queued and stops reading. Idempotent. */
  close(deadlineMs: number): Promise<void>;
}

export interface ConsentWiring {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  config: Config;
  groupId: string;
  metrics: Metrics;
  log: Logger;
}

/** Opt-out feedback, composed: the consent topic (read in full), then the webhook server that writes to it. */
export async function startConsent(w: ConsentWiring): Promise<ConsentParts> {
  const c = w.config.consent;
  const topic = new ConsentTopic({
    kafka: w.kafka,
    admin: w.admin,
    producer: w.producer,
    topic: c.topic,
    groupPrefix: `${w.groupId}.consent`,
    refreshMs: c.refreshMs,
    compression: compressionType(w.config.kafka.compression),
    hasher: new PersonHasher(
      w.config.ledger.hashKey ? secretReader(w.config.ledger.hashKey, 'ledger.hashKey')() : undefined,
    ),
    metrics: w.metrics,
    log: w.log,
  });
  await topic.start();
  const server = await startWebhookServer({
    host: c.host,
    port: c.port,
    connections: new Set(Object.keys(w.config.connections)),
    token: secretReader(c.token!, 'consent.token'),
    maxBodyBytes: c.maxBodyBytes,
    ratePerSecond: c.ratePerSecond,
    burst: c.ratePerSecond * 2,
    record: (connection, email, listId, at) => topic.record(connection, email, listId, at),
    metrics: w.metrics,
    log: w.log,
  }).catch(async (err: unknown) => {
    await topic.close(0);
    throw err;
  });
  let closing: Promise<void> | undefined;
  return {
    port: server.port,
    gate: (inner) => consentGate(inner, topic),
    close: (deadlineMs) => (closing ??= server.close().then(() => topic.close(deadlineMs))),
  };
}
