import { Partitioners, type Admin, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { AccountDelivery, Settlement } from './deliver/account.js';
import { checkAccounts, createAccounts, createClients } from './deliver/accounts.js';
import { DeadLetterProducer } from './dlq/producer.js';
import { ConfigError } from './domain/errors.js';
import { AvroDecoder } from './ingest/avro.js';
import { dlqTopicFor } from './dlq/envelope.js';
import { SourceConsumer } from './ingest/consumer.js';
import { Pipeline } from './ingest/pipeline.js';
import { Router } from './ingest/router.js';
import type { EventRef } from './ingest/source.js';
import { createKafka } from './kafka/client.js';
import { compressionType } from './kafka/codecs.js';
import { checkRebuild, createLedger, ensureLedgerTopics, type LedgerParts } from './ledger/kafka.js';
import { ensureTopic, partitionCount } from './kafka/topics.js';
import { createLogger, setShowEmails } from './observability/logger.js';
import { trackBuffersPerList } from './observability/buffer-gauges.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { Readiness, type ReadinessStatus } from './observability/readiness.js';
import { startHttpServer, type HttpServer } from './observability/server.js';

export interface ServiceOptions {
  log?: Logger;
  metrics?: Metrics;
  groupId?: string;
  /** Report each bulk import instead of sending it (reads still go to the account). */
  dryRun?: (line: string) => void;
  /** A bounded run (replay): per partition, the offset where it ends; nothing at or past it is consumed. */
  endOffset?: (topic: string, partition: number) => number | undefined;
  /** Observes the events each confirmation settles as delivered (a replay counts them per list). */
  onDelivered?: (refs: EventRef[]) => void;
  /**
   * Connections whose membership ledger is rebuilt from this run (a new or emptied account): what the ledger
   * held for them before is ignored, and it is rewritten as changes are confirmed.
   */
  rebuildLedger?: string[];
}

export interface Service {
  readonly config: Config;
  readonly pipeline: Pipeline;
  readonly consumer: SourceConsumer;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The port of /metrics, /healthz and /readyz (config.http.port, or the one picked for port 0). */
  readonly httpPort: number;
  /** What /readyz answers: Kafka reachable, consumer connected, tokens accepted, no account failing, nothing fatal. */
  readiness(): ReadinessStatus;
  ready(): boolean;
  /** Pause, flush, wait for confirmations, commit, leave the group: within shutdown.deadlineMs. Idempotent. */
  stop(): Promise<{ clean: boolean }>;
  /** Resolves with a one-line reason once the consumer crashed and will not restart: nothing is committed after it. */
  readonly fatal: Promise<string>;
}

/**
 * The composition root: config → accounts (checked) → Kafka (DLQ topics, producer) → pipeline → consumer.
 */
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  const log = opts.log ?? createLogger(config.log.level, undefined, config.log.format);
  setShowEmails(config.log.showEmails);
  const metrics = opts.metrics ?? createMetrics();
  // The HTTP server comes first: while accounts and Kafka are awaited, /healthz answers and /readyz says why not.
  let readiness: () => ReadinessStatus = () => ({ ready: false, reasons: ['starting: checking the accounts and connecting to Kafka'] });
  const http = await startHttpServer({ host: config.http.host, port: config.http.port, registry: metrics.registry, readiness: () => readiness(), log: log.child({ module: 'http' }) });
  try {
    return await buildService(config, opts, log, metrics, http, (r) => (readiness = r));
  } catch (err) {
    await http.close();
    throw err;
  }
}

async function buildService(config: Config, opts: ServiceOptions, log: Logger, metrics: Metrics, http: HttpServer, setReadiness: (r: () => ReadinessStatus) => void): Promise<Service> {
  checkRebuild(config, opts.rebuildLedger ?? []);
  const clients = createClients(config, opts.dryRun, metrics);
  const perstags = await checkAccounts(config, clients, log.child({ module: 'accounts' }));
  const router = new Router(config.exports, (exp, tag) => perstags.get(exp.connection)?.get(tag.toUpperCase()));
  const wire = config.schemaRegistry && new AvroDecoder(config.schemaRegistry, config.ingest.maxEventBytes);
  if (wire) await waitFor(() => wire.check(), log, 'The schema registry');

  const kafka = createKafka(config.kafka, log.child({ module: 'kafka' }));
  const admin = kafka.admin();
  await waitFor(() => admin.connect(), log, 'Kafka');
  const totalPartitions = await ensureDeadLetterTopics(admin, config);
  if (config.ledger.enabled) {
    await ensureLedgerTopics(admin, config, log).catch(async (err: unknown) => {
      await admin.disconnect();
      throw err;
    });
  }
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await waitFor(() => producer.connect(), log, 'Kafka producer');
  const dlq = new DeadLetterProducer(producer, config.deadLetter.topic, metrics, log.child({ module: 'dlq' }), compressionType(config.kafka.compression));
  let ledger: LedgerParts | undefined;
  if (config.ledger.enabled) {
    const groupId = opts.groupId ?? config.kafka.groupId;
    ledger = createLedger({ kafka, admin, producer, config, groupId, rebuild: opts.rebuildLedger ?? [], dryRun: !!opts.dryRun, metrics, log: log.child({ module: 'ledger' }) });
  }

  // Accounts settle into the pipeline, which routes into the accounts: bind late.
  let pipeline: Pipeline | undefined;
  const settlement: Settlement<EventRef> = {
    settle: (refs) => {
      pipeline!.settle(refs);
      opts.onDelivered?.(refs);
    },
    deadLetter: (refs, stage, code, message) => pipeline!.deadLetter(refs, stage, code, message),
    accepted: (refs, at) => pipeline!.accepted(refs, at),
    route: (connection, email, listId, change) => pipeline!.route(connection, email, listId, change),
    applied: (connection, changes) => pipeline!.applied(connection, changes, opts.onDelivered),
    skipped: (refs, result) => pipeline!.skipped(refs, result),
  };
  const accounts: Map<string, AccountDelivery<EventRef>> = createAccounts(config, clients, settlement, metrics, log.child({ module: 'deliver' }));
  pipeline = new Pipeline(config, router, accounts, dlq, metrics, log.child({ module: 'ingest' }), wire, ledger?.ledger);
  pipeline.totalPartitions = totalPartitions;
  const consumer = new SourceConsumer(kafka, config, pipeline, metrics, log.child({ module: 'consumer' }), opts.groupId, opts.endOffset);
  await waitFor(() => consumer.start(), log, 'Kafka consumer');
  const probes = new Readiness({
    admin: kafka.admin({ retry: { retries: 0 } }),
    groupId: opts.groupId ?? config.kafka.groupId,
    topics: config.kafka.topics,
    fromBeginning: config.kafka.fromBeginning,
    clients,
    accounts,
    consumer,
    intervalMs: config.http.probeIntervalMs,
    metrics,
    log: log.child({ module: 'readiness' }),
  });
  const untrackBuffers = trackBuffersPerList(metrics, accounts, config.exports.map((e) => ({ connection: e.connection, listId: e.listId })));
  const kc = consumer.describe();
  kc.on(kc.events.CRASH, (e) => {
    if (!e.payload.restart) probes.fatal(`the Kafka consumer crashed and does not restart: ${String(e.payload.error)}`);
  });
  setReadiness(() => probes.status());
  void probes.start();
  log.info({ topics: config.kafka.topics, group: opts.groupId ?? config.kafka.groupId, exports: config.exports.length }, 'The sync is running');

  let stopping: Promise<{ clean: boolean }> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      setReadiness(() => ({ ready: false, reasons: ['stopping'] }));
      metrics.ready.set(0);
      consumer.pauseAll();
      for (const a of accounts.values()) a.drain('shutdown');
      const drained = Promise.all([...accounts.values()].map((a) => a.whenIdle())).then(() => true);
      const clean = await Promise.race([drained, new Promise<boolean>((r) => setTimeout(() => r(false), config.shutdown.deadlineMs).unref())]);
      await dlq.close();
      // Confirmed changes settle only once the ledger holds them: write those before the final commit.
      await step(async () => ledger?.close(clean ? 5_000 : 1_000), log, 'writing the ledger');
      await step(() => consumer.stop(), log, 'stopping the consumer');
      for (const a of accounts.values()) a.close();
      await step(() => producer.disconnect(), log, 'disconnecting the producer');
      await step(() => admin.disconnect(), log, 'disconnecting the admin client');
      await step(() => probes.close(), log, 'stopping the readiness probes');
      untrackBuffers();
      for (const c of clients.values()) await c.close();
      await step(() => http.close(), log, 'closing the HTTP server');
      log.info({ clean }, clean ? 'Stopped after settling everything' : 'Stopped at the shutdown deadline; unsettled events will be fetched again');
      return { clean };
    })());

  return {
    config,
    pipeline,
    consumer,
    metrics,
    log,
    httpPort: http.port,
    readiness: () => probes.status(),
    ready: () => probes.status().ready,
    stop,
    fatal: consumer.fatal,
  };
}

/** Creates each source topic's dead-letter topic if missing; returns the source topics' partition count. */
async function ensureDeadLetterTopics(admin: Admin, config: Config): Promise<number> {
  let total = 0;
  for (const topic of config.kafka.topics) {
    const partitions = (await partitionCount(admin, topic)) ?? 1;
    total += partitions;
    await ensureTopic(admin, dlqTopicFor(topic, config.deadLetter.topic), partitions, { 'retention.ms': String(config.deadLetter.retentionMs) });
  }
  return total;
}

/** Retries a connection with backoff: an unreachable broker is waited for, not a crash. */
async function waitFor(connect: () => Promise<void>, log: Logger, what: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await connect();
      return;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const wait = Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5));
      log.warn({ err: (err as Error).message, retryInMs: wait }, `${what} is not reachable yet; waiting (not ready)`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

async function step(fn: () => Promise<void>, log: Logger, what: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.warn({ err: (err as Error).message }, `Shutdown: ${what} failed`);
  }
}
