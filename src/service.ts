import type { Admin, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { AccountDelivery } from './deliver/account-delivery.js';
import { checkAccounts, createAccounts, createClients } from './deliver/wiring.js';
import { sleep } from './domain/sleep.js';
import { DeadLetterProducer } from './dlq/producer.js';
import { Backoff } from './domain/backoff.js';
import { ConfigError } from './domain/errors.js';
import { AvroDecoder } from './ingest/avro.js';
import { dlqTopicFor } from './dlq/envelope.js';
import { SourceConsumer } from './ingest/consumer.js';
import { Ingest } from './ingest/ingest.js';
import { Router } from './ingest/router.js';
import type { EventRef } from './ingest/source.js';
import { createKafka, writerProducerConfig } from './kafka/client.js';
import { compressionType } from './kafka/codecs.js';
import { LedgerGate } from './ledger/gate.js';
import { checkRebuild, createLedger, ensureLedgerTopics, type LedgerParts } from './ledger/kafka.js';
import { ensureTopic, partitionCount } from './kafka/topics.js';
import { createLogger, setShowEmails } from './observability/logger.js';
import { trackBuffersPerList } from './observability/buffer-gauges.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { Readiness, type ReadinessStatus } from './observability/readiness.js';
import { OutcomeSink } from './offsets/outcomes.js';
import { Ownership } from './offsets/ownership.js';
import { Settler, type Totals, type Unsettled } from './offsets/settler.js';
import { startHttpServer, type HttpServer } from './observability/server.js';
import { startConsent, type ConsentParts } from './consent/wiring.js';

export interface ServiceOptions {
  log?: Logger;
  metrics?: Metrics;
  groupId?: string;
  /** Report each bulk import instead of sending it (reads still go to the account). */
  dryRun?: (line: string) => void;
  /** Aborting ends a start-up that waits for Kafka, the registry or an account (startService then rejects). */
  signal?: AbortSignal;
  /** A bounded run (replay): per partition, the offset where it ends; nothing at or past it is consumed. */
  endOffset?: (topic: string, partition: number) => number | undefined;
  /** Observes the events each confirmation settles as delivered (a replay counts them per list). */
  onDelivered?: (refs: EventRef[]) => void;
  /** Observes the events of each request ActiveCampaign accepted, and when (the benchmark's latency). */
  onAccepted?: (refs: readonly EventRef[], at: number) => void;
  /**
   * Connections whose membership ledger is rebuilt from this run (a new or emptied account): what the ledger
   * held for them before is ignored, and it is rewritten as changes are confirmed.
   */
  rebuildLedger?: string[];
}

export interface Service {
  readonly config: Config;
  readonly ingest: Ingest;
  readonly consumer: SourceConsumer;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The port of /metrics, /healthz and /readyz (config.http.port, or the one picked for port 0). */
  readonly httpPort: number;
  /** The port of the opt-out webhook (consent.port, or the one picked for port 0); undefined when it is off. */
  readonly webhookPort: number | undefined;
  /** What /readyz answers: Kafka reachable, consumer connected, tokens accepted, no account failing, nothing fatal. */
  readiness(): ReadinessStatus;
  ready(): boolean;
  /** Where each owned partition's commits stop now (empty when everything consumed has settled). */
  unsettled(): Unsettled[];
  /**
   * A copy of the counts since start: events consumed, and how their settling ended (delivered, dead-lettered,
   * skipped). What an operator reads from the metrics; tests and the demo wait on it.
   */
  totals(): Totals;
  /** Events consumed and not yet settled (the gauge ac_list_sync_pending_events). */
  pending(): number;
  /** Whether fetching is paused for backpressure or a failing account (the gauge ac_list_sync_paused). */
  paused(): boolean;
  /**
   * The share of a connection's request budget this instance spends (a replay its replayShare, the live sync the rest).
   */
  budgetShare(connection: string): number | undefined;
  /**
   * Pause, flush, wait for confirmations and their durable writes, commit, leave the group: within
   * shutdown.deadlineMs. `clean` only when nothing stayed unsettled; `unsettled` says where each partition's
   * commits stopped. Idempotent.
   */
  stop(): Promise<{ clean: boolean; unsettled: Unsettled[] }>;
  /** Resolves with a one-line reason once the consumer crashed and will not restart: nothing is committed after it. */
  readonly fatal: Promise<string>;
}

/**
 * The composition root: config → accounts (checked) → Kafka (DLQ topics, producer) → ingest → consumer.
 */
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  const log = opts.log ?? createLogger(config.log.level, undefined, config.log.format);
  setShowEmails(config.log.showEmails);
  const metrics = opts.metrics ?? createMetrics();
  // The HTTP server comes first: while accounts and Kafka are awaited, /healthz answers and /readyz says why not.
  let readiness: () => ReadinessStatus = () => ({
    ready: false,
    reasons: ['starting: checking the accounts and connecting to Kafka'],
  });
  const http = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    registry: metrics.registry,
    readiness: () => readiness(),
    log: log.child({ module: 'http' }),
  });
  try {
    return await buildService(config, opts, log, metrics, http, (r) => (readiness = r));
  } catch (err) {
    await http.close();
    throw err;
  }
}

async function buildService(
  config: Config,
  opts: ServiceOptions,
  log: Logger,
  metrics: Metrics,
  http: HttpServer,
  setReadiness: (r: () => ReadinessStatus) => void,
): Promise<Service> {
  checkRebuild(config, opts.rebuildLedger ?? []);
  const clients = createClients(config, opts.dryRun, metrics);
  const perstags = await checkAccounts(config, clients, log.child({ module: 'accounts' }), opts.signal);
  const router = new Router(config.exports, (exp, tag) => perstags.get(exp.connection)?.get(tag.toUpperCase()));
  const wire = config.schemaRegistry && new AvroDecoder(config.schemaRegistry, config.ingest.maxEventBytes);
  if (wire) await waitFor(() => wire.check(), log, 'The schema registry', opts.signal);

  const kafka = createKafka(config.kafka, log.child({ module: 'kafka' }));
  const admin = kafka.admin();
  await waitFor(() => admin.connect(), log, 'Kafka', opts.signal);
  const totalPartitions = await ensureDeadLetterTopics(admin, config);
  if (config.ledger.enabled) {
    await ensureLedgerTopics(admin, config, log).catch(async (err: unknown) => {
      await admin.disconnect();
      throw err;
    });
  }
  const producer: Producer = kafka.producer(writerProducerConfig());
  await waitFor(() => producer.connect(), log, 'Kafka producer', opts.signal);
  const dlq = new DeadLetterProducer(producer, config.deadLetter.topic, metrics, log.child({ module: 'dlq' }), {
    admin,
    compression: compressionType(config.kafka.compression),
  });
  let ledger: LedgerParts | undefined;
  if (config.ledger.enabled) {
    const groupId = opts.groupId ?? config.kafka.groupId;
    ledger = createLedger({
      kafka,
      admin,
      producer,
      config,
      groupId,
      rebuild: opts.rebuildLedger ?? [],
      dryRun: !!opts.dryRun,
      metrics,
      log: log.child({ module: 'ledger' }),
    });
  }

  // The settle path, in a straight line: ownership → settler ← outcome sink ← accounts ← ingest ← consumer.
  const ownership = new Ownership();
  const onDelivered = opts.onDelivered;
  const settler = new Settler(
    ownership,
    metrics,
    log.child({ module: 'settle' }),
    onDelivered ? (share, result) => result === 'delivered' && onDelivered([share as EventRef]) : undefined,
  );
  const deadLetter = (letter: Parameters<DeadLetterProducer['write']>[0]) => dlq.write(letter);
  const outcomes = new OutcomeSink(settler, ownership, deadLetter, metrics, ledger?.ledger, opts.onAccepted);
  const ledgerGate = new LedgerGate(config.exports, ownership, ledger?.ledger);
  // Opt-out feedback (off by default): the consent topic is read in full before the first event is routed.
  const consent: ConsentParts | undefined = config.consent.enabled
    ? await startConsent({
        kafka,
        admin,
        producer,
        config,
        groupId: opts.groupId ?? config.kafka.groupId,
        metrics,
        log: log.child({ module: 'consent' }),
      })
    : undefined;
  const gate = consent ? consent.gate(ledgerGate) : ledgerGate;
  const accounts: Map<string, AccountDelivery<EventRef>> = createAccounts(
    config,
    clients,
    outcomes,
    gate,
    metrics,
    log.child({ module: 'deliver' }),
  );
  const ingest = new Ingest(
    config,
    router,
    accounts,
    ownership,
    settler,
    deadLetter,
    metrics,
    log.child({ module: 'ingest' }),
    wire,
    ledger?.ledger,
  );
  ingest.totalPartitions = totalPartitions;
  const consumer = new SourceConsumer(
    kafka,
    config,
    ingest,
    metrics,
    log.child({ module: 'consumer' }),
    opts.groupId,
    opts.endOffset,
  );
  await waitFor(() => consumer.start(), log, 'Kafka consumer', opts.signal);
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
  const untrackBuffers = trackBuffersPerList(
    metrics,
    accounts,
    config.exports.map((e) => ({ connection: e.connection, listId: e.listId })),
  );
  void consumer.fatal.then((reason) => probes.fatal(reason));
  setReadiness(() => probes.status());
  void probes.start();
  log.info(
    { topics: config.kafka.topics, group: opts.groupId ?? config.kafka.groupId, exports: config.exports.length },
    'The sync is running',
  );

  let stopping: Promise<{ clean: boolean; unsettled: Unsettled[] }> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // A little inside the deadline, so that the stop ends (and says what it left) before run's watchdog fires.
      const deadline = Date.now() + config.shutdown.deadlineMs - Math.min(500, config.shutdown.deadlineMs * 0.05);
      const left = () => Math.max(0, deadline - Date.now());
      // Settling may take the deadline less a reserve for the steps after it (final commit, disconnects).
      const reserve = Math.min(5_000, config.shutdown.deadlineMs * 0.2);
      const settleLeft = () => Math.max(0, left() - reserve);
      setReadiness(() => ({ ready: false, reasons: ['stopping'] }));
      metrics.ready.set(0);
      consumer.pauseAll();
      for (const a of accounts.values()) a.drain('shutdown');
      // Settled means every share ended and its durable writes acknowledged: wait for that, up to the deadline.
      await Promise.race([
        Promise.all([...accounts.values()].map((a) => a.whenIdle())).then(() =>
          until(() => settler.unsettled().length === 0, settleLeft),
        ),
        new Promise<void>((r) => setTimeout(r, settleLeft()).unref()),
      ]);
      await bounded(dlq.close(Math.min(left(), 1_000)), Math.min(left(), 1_500), log, 'closing the dead-letter writer');
      await bounded(ledger?.close(Math.min(left(), 5_000)), left(), log, 'writing the ledger');
      await bounded(
        consent?.close(Math.min(left(), 1_000)),
        Math.min(left(), 1_500),
        log,
        'closing the opt-out webhook and the consent topic',
      );
      await bounded(consumer.stop(), left(), log, 'committing and stopping the consumer');
      const unsettled = settler.unsettled();
      const clean = unsettled.length === 0;
      for (const a of accounts.values()) a.close();
      await bounded(producer.disconnect(), Math.min(left(), 2_000), log, 'disconnecting the producer');
      await bounded(admin.disconnect(), Math.min(left(), 1_000), log, 'disconnecting the admin client');
      await bounded(probes.close(), Math.min(left(), 1_000), log, 'stopping the readiness probes');
      untrackBuffers();
      for (const c of clients.values())
        await bounded(c.close(), Math.min(left(), 1_000), log, 'closing an ActiveCampaign client');
      await bounded(http.close(), Math.min(left(), 1_000), log, 'closing the HTTP server');
      if (clean) log.info({ clean }, 'Stopped after settling everything');
      else
        log.warn(
          { clean, unsettled },
          `Stopped at the shutdown deadline with unsettled events in ${unsettled.length} partition(s); ` +
            'their commits stop at the offsets listed, and those events will be fetched again',
        );
      return { clean, unsettled };
    })());

  return {
    config,
    ingest,
    consumer,
    metrics,
    log,
    httpPort: http.port,
    webhookPort: consent?.port,
    readiness: () => probes.status(),
    ready: () => probes.status().ready,
    unsettled: () => settler.unsettled(),
    totals: () => ({ ...ingest.totals }),
    pending: () => ingest.pending,
    paused: () => consumer.paused,
    budgetShare: (connection) => accounts.get(connection)?.budget.share,
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
    await ensureTopic(admin, dlqTopicFor(topic, config.deadLetter.topic), partitions, {
      'retention.ms': String(config.deadLetter.retentionMs),
    });
  }
  return total;
}

/** Retries a connection with backoff: an unreachable broker is waited for, not a crash. */
async function waitFor(connect: () => Promise<void>, log: Logger, what: string, signal?: AbortSignal): Promise<void> {
  const backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000 });
  for (;;) {
    try {
      await connect();
      return;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const wait = backoff.next();
      log.warn({ err: (err as Error).message, retryInMs: wait }, `${what} is not reachable yet; waiting (not ready)`);
      await sleep(wait, signal);
      if (signal?.aborted) throw err;
    }
  }
}

/** A shutdown step, given at most `ms`: a step that fails or takes longer is logged and left behind. */
async function bounded(work: Promise<unknown> | undefined, ms: number, log: Logger, what: string): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    if ((await Promise.race([work, timeout])) === 'timeout')
      log.warn({ waitedMs: ms }, `Shutdown: ${what} did not finish in time`);
  } catch (err) {
    log.warn({ err: (err as Error).message }, `Shutdown: ${what} failed`);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `done()` holds, looking every 20 ms, or when `left()` runs out. */
async function until(done: () => boolean, left: () => number): Promise<void> {
  while (!done() && left() > 0) await new Promise((r) => setTimeout(r, Math.min(20, left())));
}
