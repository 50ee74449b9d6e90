import kafkajs, { type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../domain/errors.js';
import { compressionType } from '../kafka/codecs.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { ensureTopic, partitionCount } from '../kafka/topics.js';
import type { Metrics } from '../observability/metrics.js';
import { Ledger, type LedgerIo } from './ledger.js';
import { ledgerTopicFor } from './record.js';
import { LedgerWriter } from './writer.js';
import { PersonHasher } from './erasure.js';
import { secretReader } from '../config/secret.js';

/**
 * The Kafka edge of the ledger: its topics (one compacted topic per source topic, with the source's partition
 * count), and the Ledger wired to read and write them.
 */
/** kafkajs is CommonJS: its enums come from the default export. */
const { ConfigResourceTypes } = kafkajs;

export async function ensureLedgerTopics(admin: Admin, config: Config, log?: Logger): Promise<void> {
  for (const source of config.kafka.topics) {
    const topic = ledgerTopicFor(source, config.ledger.topic);
    const partitions = (await partitionCount(admin, source)) ?? 1;
    const existing = await partitionCount(admin, topic);
    if (existing === undefined) {
      await ensureTopic(admin, topic, partitions, { 'cleanup.policy': 'compact' });
      continue;
    }
    if (existing !== partitions) {
      throw new ConfigError(
        'ledger.topic',
        `${topic} has ${existing} partitions but ${source} has ${partitions}: a ledger topic needs ` +
          "its source topic's partition count (records go to the source event's partition number)",
      );
    }
    let policy: string;
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
      });
      policy = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? '';
    } catch (err) {
      // e.g. no DescribeConfigs permission: the operator created the topic, and the README says how.
      log?.warn(
        { topic, err: (err as Error).message },
        'Could not read the ledger topic cleanup.policy; it must be compact',
      );
      continue;
    }
    if (!policy.split(',').includes('compact') || policy.includes('delete')) {
      throw new ConfigError(
        'ledger.topic',
        `${topic} has cleanup.policy=${policy || '(unknown)'}: a ledger topic must be compacted ` +
          'only (cleanup.policy=compact), or the service forgets which unsubscribes it made',
      );
    }
  }
}

export interface LedgerParts {
  ledger: Ledger;
  /** Writes what is queued (bounded by `deadlineMs`), then stops writing. */
  close(deadlineMs: number): Promise<void>;
}

export interface LedgerWiring {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  config: Config;
  groupId: string;
  /** Connections whose ledger is rebuilt: records older than this run are ignored, new ones written. */
  rebuild: readonly string[];
  /** A dry run writes nothing to the ledger topic (memory only). */
  dryRun: boolean;
  metrics: Metrics;
  log: Logger;
}

/** A rebuild names connections of the config, and needs the ledger. */
export function checkRebuild(config: Config, rebuild: readonly string[]): void {
  if (rebuild.length && !config.ledger.enabled)
    throw new ConfigError('ledger.enabled', 'rebuilding the ledger needs the ledger (ledger.enabled: true)');
  for (const name of rebuild) {
    if (!config.connections[name])
      throw new ConfigError('rebuildLedger', `no connection named "${name}" to rebuild the ledger of`);
  }
}

/** How the ledger topic of a source topic is read on assignment (the bench measures this same path). */
export function ledgerRestorer(
  kafka: Kafka,
  admin: Admin,
  topicOf: (source: string) => string,
  groupPrefix: string,
): LedgerIo['restore'] {
  return (source, partitions, onRecord, signal, resume) =>
    readToEnd(
      kafka,
      admin,
      topicOf(source),
      (r) => onRecord(r.partition, r.key ?? '', r.value, r.timestamp, r.offset),
      { groupPrefix, partitions, signal, reuseRecord: true, ...resume },
    ).then(() => undefined);
}

export function createLedger(w: LedgerWiring): LedgerParts {
  checkRebuild(w.config, w.rebuild);
  const writer = new LedgerWriter(w.producer, w.metrics, w.log, {
    admin: w.admin,
    compression: compressionType(w.config.kafka.compression),
  });
  const topicOf = (source: string) => ledgerTopicFor(source, w.config.ledger.topic);
  const ledger = new Ledger(
    {
      restore: ledgerRestorer(w.kafka, w.admin, topicOf, `${w.groupId}.ledger`),
      write: (source, partition, key, value) =>
        w.dryRun ? Promise.resolve() : writer.write({ topic: topicOf(source), partition, key, value }),
      release: (source, partition) =>
        void writer.writer.discard((r) => r.topic === topicOf(source) && r.partition === partition),
      whenWritten: () => writer.writer.whenIdle(),
    },
    {
      restoreTimeoutMs: w.config.ledger.restoreTimeoutMs,
      rebuild: new Set(w.rebuild),
      startedAt: Date.now(),
      // An unconfirmed unsubscribe may be applied until its last resubmission's confirmation deadline.
      openWindowMs: (w.config.delivery.maxImportResubmits + 1) * w.config.delivery.confirmTimeoutMs,
      // Read once: a key that changed under a running service must not orphan the markers written with it.
      hasher: new PersonHasher(
        w.config.ledger.hashKey ? secretReader(w.config.ledger.hashKey, 'ledger.hashKey')() : undefined,
      ),
      listsOf: (connection) => [
        ...new Set(w.config.exports.filter((e) => e.connection === connection).map((e) => e.listId)),
      ],
    },
    w.metrics,
    w.log,
  );
  if (!w.config.ledger.hashKey)
    w.log.warn(
      'ledger.hashKey is not set: erasure markers hash emails with the built-in key, ' +
        'so a guessed email can be tested against them (README, Personal data)',
    );
  if (w.rebuild.length)
    w.log.warn(
      { connections: w.rebuild },
      'Rebuilding the ledger of these connections: ' +
        'what it held before this run is ignored and rewritten as changes are confirmed',
    );
  return {
    ledger,
    async close(deadlineMs) {
      await writer.close(deadlineMs);
      ledger.close();
    },
  };
}
