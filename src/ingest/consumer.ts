import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { backoffDelay } from '../domain/backoff.js';
import type { Metrics } from '../observability/metrics.js';
import type { Ingest, Stall } from './ingest.js';
import { tpKey, type SourceMessage } from './source.js';

/** A partition whose record waits on the schema registry retries after 0.5 s, doubling up to 30 s. */
const STALL_FIRST_MS = 500;
const STALL_MAX_MS = 30_000;

/**
 * The Kafka edge of ingest, designed around kafkajs's habits: autoCommit off and every offset resolved (so
 * fetching moves on) while commits carry only settled offsets; state reset on every group join (kafkajs
 * restarts kept partitions from their committed offset); commits filtered by the current assignment; no waiting
 * inside eachBatch (there is no background heartbeat): backpressure pauses fetching instead, and a record that
 * waits on the schema registry pauses its partition (offsets before it resolved, the rest fetched again later).
 */
export class SourceConsumer {
  private readonly consumer: Consumer;
  private commitTimer: NodeJS.Timeout | undefined;
  private pausedForBackpressure = false;
  private rebalancing = true;
  private committing: Promise<void> = Promise.resolve();
  private readonly stallAttempts = new Map<string, number>();
  private readonly stallTimers = new Set<NodeJS.Timeout>();
  private stopping = false;
  connected = false;
  /** The last offset committed per partition (tpKey): how far a bounded run has settled. */
  readonly committed = new Map<string, number>();
  /**
   * Resolves with a one-line reason when the consumer crashed on a non-retriable error: kafkajs has left the group
   * and will not restart. From then on nothing is committed (offsets settled later would be committed for a member
   * that no longer owns the partitions); the process is expected to exit.
   */
  readonly fatal: Promise<string>;
  private crashed: string | undefined;

  constructor(
    kafka: Kafka,
    private readonly config: Config,
    private readonly ingest: Ingest,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    groupId = config.kafka.groupId,
    /** A bounded run (replay): per partition, the offset where it ends; nothing at or past it is taken. */
    private readonly endOffset?: (topic: string, partition: number) => number | undefined,
  ) {
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: config.kafka.sessionTimeoutMs,
      heartbeatInterval: config.kafka.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(config.kafka.sessionTimeoutMs, 10_000),
      maxBytesPerPartition: 4 * 1024 * 1024,
      // While every partition is paused, kafkajs sleeps this long before it looks again: it bounds how late a
      // resume after backpressure takes effect (the default, 5 s, made draining a backlog crawl).
      maxWaitTimeInMs: 1_000,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    const { GROUP_JOIN, REBALANCING, CONNECT, DISCONNECT, CRASH, END_BATCH_PROCESS } = this.consumer.events;
    // A fetch that held only transaction markers or aborted records never reaches eachBatch (kafkajs resolves it
    // itself): those offsets count as seen, or a partition that ends in a marker never commits to its end. One
    // that held only records before the fetched offset (the rest of their batch compacted away) has no first
    // offset, and kafkajs resolves the fetched offset itself (its lastOffset): it holds no record either.
    this.consumer.on(END_BATCH_PROCESS, ({ payload: p }) => {
      if (p.batchSize !== 0) return;
      const first = Number(p.firstOffset ?? p.lastOffset);
      this.ingest.settler.skipThrough(p.topic, p.partition, first, Number(p.lastOffset));
    });
    this.consumer.on(GROUP_JOIN, (e) => {
      this.rebalancing = false;
      this.ingest.assign(e.payload.memberAssignment);
      // A consumer started again after a crash has a new group, with nothing paused: a pause that holds is renewed.
      if (this.stopping || this.pausedForBackpressure)
        this.kafkaCall('pause', () => this.consumer.pause(this.config.kafka.topics.map((topic) => ({ topic }))));
    });
    this.consumer.on(REBALANCING, () => {
      this.rebalancing = true;
    });
    this.consumer.on(CONNECT, () => (this.connected = true));
    this.consumer.on(DISCONNECT, () => (this.connected = false));
    let fail: (reason: string) => void = () => undefined;
    this.fatal = new Promise((resolve) => (fail = resolve));
    this.consumer.on(CRASH, (e) => {
      const err = e.payload.error;
      const transient = !e.payload.restart && !this.stopping && isTransient(err);
      this.log.error({ err: String(err), restart: e.payload.restart || transient }, 'The Kafka consumer crashed');
      if (e.payload.restart) {
        this.metrics.consumerRestarts.inc();
        return;
      }
      if (transient) {
        this.rerun();
        return;
      }
      if (this.crashed) return;
      this.crashed = `the Kafka consumer crashed on a non-retriable error: ${String(err)}`;
      if (this.commitTimer) clearInterval(this.commitTimer);
      fail(this.crashed);
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.config.kafka.topics, fromBeginning: this.config.kafka.fromBeginning });
    await this.run();
    // A crash during start-up (a failed first join) has already happened by now: then no timer.
    if (!this.crashed) this.commitTimer = setInterval(() => void this.commit(), this.config.kafka.commitIntervalMs);
  }

  private run(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /**
   * kafkajs gives up for good on some errors that only mean the broker is away for a while: with the broker
   * restarting, finding the group coordinator fails with a connection error, which kafkajs does not retry, and the
   * consumer crashes without restarting. The service then starts it again itself (it has already left the group;
   * the next join is a new generation, so nothing of the old one is committed), with a backoff while it fails.
   */
  private rerun(attempt = 0): void {
    const wait = backoffDelay(attempt + 1, { initialMs: 500, maxMs: 30_000 });
    this.metrics.consumerRestarts.inc();
    this.log.warn(
      { retryInMs: wait, attempt: attempt + 1 },
      'The Kafka consumer gave up on an error that only means the broker is away for now; it is started again',
    );
    const timer = setTimeout(() => {
      this.stallTimers.delete(timer);
      if (this.stopping || this.crashed) return;
      void (async () => {
        await this.consumer.connect();
        await this.run();
      })().catch((err: unknown) => {
        if (this.stopping || this.crashed) return;
        this.log.warn({ err: String(err) }, 'The Kafka consumer could not be started again yet');
        this.rerun(attempt + 1);
      });
    }, wait);
    this.stallTimers.add(timer);
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    pause,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    // Stopping: nothing new is begun (what a fetch in the air brings is fetched again by the next owner).
    if (!isRunning() || isStale() || this.stopping) return;
    const fetched: SourceMessage[] = batch.messages.map((m) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: Number(m.offset),
      key: m.key,
      value: m.value,
      headers: (m.headers ?? {}) as SourceMessage['headers'],
      timestamp: Number(m.timestamp),
    }));
    // A bounded run (replay) takes nothing at or past the partition's end offset; once a fetch reaches it, every
    // offset below it has been looked at (markers included), so the partition is complete and pauses.
    const end = this.endOffset?.(batch.topic, batch.partition);
    const beyond = end !== undefined && Number(batch.lastOffset()) >= end;
    const messages = beyond ? fetched.filter((m) => m.offset < end) : fetched;
    // One fetch can hold far more than the pending bound (every partition, megabytes each): take only what fits
    // and resolve only that, so kafkajs fetches the rest again once fetching resumes.
    const room = Math.max(0, this.config.buffer.maxPendingEvents - this.ingest.pending);
    const taken = messages.length <= room ? messages : messages.slice(0, room);
    const whole = taken.length === messages.length;
    const last = whole
      ? beyond
        ? taken.length
          ? end - 1
          : undefined
        : Number(batch.lastOffset())
      : taken[taken.length - 1]?.offset;
    if (last !== undefined) {
      const stall = await this.ingest.handle(taken, last);
      if (stall) {
        if (stall.offset > taken[0]!.offset) resolveOffset(String(stall.offset - 1));
        this.stallPartition(batch.topic, batch.partition, stall, pause);
      } else {
        this.stallAttempts.delete(tpKey(batch.topic, batch.partition));
        resolveOffset(String(last));
        if (beyond && whole) this.reachedEnd(batch.topic, batch.partition, Number(batch.firstOffset()), end, pause);
      }
    } else if (beyond && whole) {
      this.reachedEnd(batch.topic, batch.partition, Number(batch.firstOffset()), end, pause);
    }
    await heartbeat();
    this.applyBackpressure(!whole);
  }

  /**
   * A bounded run's partition has no record left below `end`: offsets up to it count as seen (a transaction
   * marker just before the end must not keep the run waiting), and the partition pauses. A topic-level pause
   * already holds it (see stallPartition); its resume fetches again, finds nothing to take and pauses again.
   */
  private reachedEnd(topic: string, partition: number, first: number, end: number, pause: () => () => void): void {
    this.ingest.settler.skipThrough(topic, partition, first, end - 1);
    if (!this.pausedForBackpressure && !this.stopping) pause();
  }

  /**
   * A record needs a service that did not answer: pause this partition and resume it after a backoff; kafkajs
   * then fetches again from the first unresolved offset. A topic-level pause (backpressure, shutdown) already
   * holds the partition, and kafkajs would un-pause the topic's other partitions on a partition pause, so then
   * the topic-level resume lets it retry.
   */
  private stallPartition(topic: string, partition: number, stall: Stall, pause: () => () => void): void {
    if (stall.until) {
      // Not a failure: the partition waits for something under way (its ledger being restored), then resumes.
      this.log.debug(
        { topic, partition, offset: stall.offset, code: stall.error.code },
        'A partition waits before its records are processed',
      );
      if (this.pausedForBackpressure || this.stopping) return;
      const resume = pause();
      void stall.until.then(() => {
        if (!this.pausedForBackpressure && !this.stopping) this.kafkaCall('resume', resume);
      });
      return;
    }
    const key = tpKey(topic, partition);
    const attempt = (this.stallAttempts.get(key) ?? 0) + 1;
    this.stallAttempts.set(key, attempt);
    const retryInMs = backoffDelay(attempt, { initialMs: STALL_FIRST_MS, maxMs: STALL_MAX_MS });
    this.metrics.decodeStalls.inc({ topic, code: stall.error.code });
    this.log.warn(
      { topic, partition, offset: stall.offset, code: stall.error.code, err: stall.error.message, attempt, retryInMs },
      'A record waits for the schema registry: its partition pauses and tries again (nothing is dead-lettered)',
    );
    if (this.pausedForBackpressure || this.stopping) return;
    const resume = pause();
    const timer = setTimeout(() => {
      this.stallTimers.delete(timer);
      if (!this.pausedForBackpressure && !this.stopping) this.kafkaCall('resume', resume);
    }, retryInMs);
    this.stallTimers.add(timer);
  }

  /**
   * Pauses fetching above the pending bounds (events, buffered bytes); a timer resumes it once half has drained.
   * Never while stopping: pauseAll() holds every topic until the end, and a resume would fetch again.
   */
  applyBackpressure(forcePause = false): void {
    if (this.stopping) return;
    const limit = this.config.buffer.maxPendingEvents;
    const byteLimit = this.config.buffer.maxBufferedBytes;
    const pending = this.ingest.pending;
    const bytes = this.ingest.bufferedBytes;
    const topics = this.config.kafka.topics.map((topic) => ({ topic }));
    const down = this.ingest.accountDown;
    if (!this.pausedForBackpressure && (forcePause || pending > limit || bytes > byteLimit || down)) {
      if (!this.kafkaCall('pause', () => this.consumer.pause(topics))) return;
      this.pausedForBackpressure = true;
      this.metrics.paused.set(1);
      this.log.info(
        { pending, limit, bytes, byteLimit, accountDown: down },
        down
          ? 'Fetching paused: an ActiveCampaign account is failing'
          : 'Fetching paused: too many unsettled events or buffered bytes',
      );
    } else if (this.pausedForBackpressure && !forcePause && !down && pending <= limit / 2 && bytes <= byteLimit / 2) {
      if (!this.kafkaCall('resume', () => this.consumer.resume(topics))) return;
      this.pausedForBackpressure = false;
      this.metrics.paused.set(0);
      this.log.info({ pending }, 'Fetching resumed');
    }
  }

  get paused(): boolean {
    return this.pausedForBackpressure;
  }

  /**
   * kafkajs's pause() and resume() throw while its consumer is between a crash and its restart (it has no group
   * then); the next call tries again. False when it threw: nothing changed.
   */
  private kafkaCall(what: string, call: () => void): boolean {
    try {
      call();
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `Could not ${what} fetching now; the next check tries again`);
      return false;
    }
  }

  /** Commits settled offsets of owned partitions; serialised so commits never overtake each other. */
  commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      if (this.rebalancing || this.crashed) return;
      if (this.pausedForBackpressure) this.applyBackpressure();
      const settler = this.ingest.settler;
      const generation = settler.generation;
      const offsets = settler.commits();
      if (offsets.length === 0) return;
      try {
        await this.consumer.commitOffsets(offsets);
        settler.committed(offsets, generation, true);
        for (const o of offsets) {
          this.metrics.committedOffset.set({ topic: o.topic, partition: String(o.partition) }, Number(o.offset));
          this.committed.set(tpKey(o.topic, o.partition), Number(o.offset));
        }
      } catch (err) {
        // Handed out again by the next commit while the generation holds; never for a partition lost since.
        settler.committed(offsets, generation, false);
        this.log.warn({ err: (err as Error).message }, 'Committing offsets failed; the next commit retries');
      }
    });
    return this.committing;
  }

  pauseAll(): void {
    this.stopping = true;
    for (const t of this.stallTimers) clearTimeout(t);
    this.stallTimers.clear();
    // Between a crash and its restart there is no group to pause, and nothing is fetched: stopping holds it.
    this.kafkaCall('pause', () => this.consumer.pause(this.config.kafka.topics.map((topic) => ({ topic }))));
  }

  /** Final commit, then leave the group (kafkajs stop() leaves it, so commit comes first). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.commitTimer) clearInterval(this.commitTimer);
    for (const t of this.stallTimers) clearTimeout(t);
    await this.commit();
    await this.consumer.disconnect();
  }

  /** For tests and the demo: the group's committed offsets. */
  describe(): Consumer {
    return this.consumer;
  }
}

/** kafkajs errors that mean the broker or the coordinator is away for now, not that something is wrong with us. */
const TRANSIENT = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSLockTimeout',
]);

/**
 * Whether a crash kafkajs does not restart from is still only the broker being away: some error in its cause
 * chain is retriable or one of the kinds above. Authentication and authorization failures, bad config and our
 * own errors are not.
 */
export function isTransient(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (/SASL|Authentication|Authorization|AUTHORIZATION/i.test(`${e.name} ${(e as { type?: string }).type ?? ''}`))
      return false;
    if ((e as { retriable?: boolean }).retriable === true || TRANSIENT.has(e.name)) return true;
  }
  return false;
}
