import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs, { type Kafka } from 'kafkajs';
import pino from 'pino';
import { isTransient, SourceConsumer } from '../../src/ingest/consumer.js';
import type { Ingest } from '../../src/ingest/ingest.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { offlineConfig } from '../support/offline-config.js';

/**
 * SourceConsumer's answer to kafkajs's CRASH event, without a broker: a crash kafkajs restarts from is counted;
 * one it does not restart from resolves `fatal` with the reason, and from then on nothing is committed.
 * (test/integration/consumer-crash.test.ts provokes a real one against the broker.)
 */
const config = offlineConfig();

/** Only what the constructor, commit() and stop() use of kafkajs's consumer. */
function setup() {
  const handlers = new Map<string, (e: { payload: Record<string, unknown> }) => void>();
  const commits: unknown[] = [];
  const started: string[] = [];
  let ran: () => void = () => undefined;
  const runAgain = new Promise<void>((r) => (ran = r));
  const consumer = {
    connect: async () => void started.push('connect'),
    run: async () => {
      started.push('run');
      ran();
    },
    // kafkajs's own event names (building a consumer connects nothing).
    events: new kafkajs.Kafka({ brokers: ['127.0.0.1:1'], logLevel: kafkajs.logLevel.NOTHING }).consumer({
      groupId: 'g',
    }).events,
    on: (name: string, fn: (e: { payload: Record<string, unknown> }) => void) => void handlers.set(name, fn),
    commitOffsets: async (offsets: unknown) => void commits.push(offsets),
    disconnect: async () => undefined,
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const settler = {
    generation: 1,
    commits: () => [{ topic: 't', partition: 0, offset: '5' }],
    committed: () => undefined,
  };
  const pipeline = { settler, assign: () => undefined } as unknown as Ingest;
  const metrics = createMetrics();
  const source = new SourceConsumer(kafka, config, pipeline, metrics, pino({ level: 'silent' }));
  const crash = (restart: boolean, error: Error) =>
    handlers.get(consumer.events.CRASH)!({ payload: { error, restart, groupId: 'g' } });
  // A group join ends the rebalancing state, in which nothing is committed.
  handlers.get(consumer.events.GROUP_JOIN)!({ payload: { memberAssignment: {} } });
  return { source, crash, commits, metrics, started, runAgain };
}

/** kafkajs's own error classes, built the way kafkajs throws them (a name and, for some, a cause). */
function kafkajsError(name: string, message: string, cause?: Error): Error {
  const e = new Error(message, cause ? { cause } : undefined);
  e.name = name;
  return e;
}

async function restarts(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  return (await metrics.consumerRestarts.get()).values[0]?.value ?? 0;
}

describe('consumer crashes', () => {
  it('a retriable crash is counted and commits go on', async () => {
    const { source, crash, commits, metrics } = setup();
    crash(true, new Error('The coordinator is not available'));
    crash(true, new Error('The coordinator is not available'));
    assert.equal(await restarts(metrics), 2);
    await source.commit();
    assert.equal(commits.length, 1);
    const settled = await Promise.race([
      source.fatal.then(() => 'fatal'),
      new Promise((r) => setImmediate(() => r('pending'))),
    ]);
    assert.equal(settled, 'pending', 'a retriable crash is not fatal');
  });

  it('a non-retriable crash resolves fatal with the reason, is not counted as a restart, and nothing is committed after it', async () => {
    const { source, crash, commits, metrics } = setup();
    await source.commit();
    assert.equal(commits.length, 1, 'commits before the crash');
    crash(false, new Error('LZ4 compression not implemented'));
    assert.equal(
      await source.fatal,
      'the Kafka consumer crashed on a non-retriable error: Error: LZ4 compression not implemented',
    );
    await source.commit();
    await source.stop().catch(() => undefined);
    assert.equal(commits.length, 1, 'no commit after the crash, not even the final one of stop()');
    assert.equal(await restarts(metrics), 0);
  });

  // Seen in the secured-broker rotation test: with the broker restarting, kafkajs's coordinator lookup fails on a
  // connection error, which it does not retry (KafkaJSGroupCoordinatorNotFound), and the consumer crashed without
  // restarting: the service exited with code 5 instead of waiting for the broker.
  it('a crash kafkajs does not restart from but that only means the broker is away is started again by the service, not fatal', async () => {
    const { source, crash, metrics, started, runAgain } = setup();
    crash(false, kafkajsError('KafkaJSGroupCoordinatorNotFound', 'Failed to find group coordinator'));
    await runAgain;
    assert.deepEqual(started, ['connect', 'run'], 'connected and run again');
    assert.equal(await restarts(metrics), 1);
    const settled = await Promise.race([
      source.fatal.then(() => 'fatal'),
      new Promise((r) => setImmediate(() => r('pending'))),
    ]);
    assert.equal(settled, 'pending');
    await source.stop();
  });

  it('tells the broker being away from what a restart cannot fix', () => {
    const refused = kafkajsError('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 127.0.0.1:19194');
    assert.equal(
      isTransient(kafkajsError('KafkaJSGroupCoordinatorNotFound', 'Failed to find group coordinator')),
      true,
    );
    assert.equal(
      isTransient(kafkajsError('KafkaJSNonRetriableError', 'wrapped', refused)),
      true,
      'a cause in the chain counts',
    );
    assert.equal(isTransient(Object.assign(new Error('The coordinator is loading'), { retriable: true })), true);
    assert.equal(
      isTransient(kafkajsError('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed')),
      false,
    );
    assert.equal(
      isTransient(
        kafkajsError(
          'KafkaJSNonRetriableError',
          'wrapped',
          kafkajsError('KafkaJSSASLAuthenticationError', 'bad password'),
        ),
      ),
      false,
    );
    assert.equal(
      isTransient(new RangeError('The value of "offset" is out of range')),
      false,
      'an assignment kafkajs cannot read',
    );
    assert.equal(isTransient(new Error('LZ4 compression not implemented')), false);
    assert.equal(isTransient('not an error'), false);
  });
});

describe('fetching while the service stops, and between a crash and its restart', () => {
  /** A consumer whose pause and resume are recorded, or throw as kafkajs's do while it has no group. */
  function paused(opts: { throwing?: boolean } = {}) {
    const calls: string[] = [];
    const consumer = {
      events: new kafkajs.Kafka({ brokers: ['127.0.0.1:1'], logLevel: kafkajs.logLevel.NOTHING }).consumer({
        groupId: 'g',
      }).events,
      on: () => undefined,
      pause: () => {
        calls.push('pause');
        if (opts.throwing) throw new Error('Consumer group was not initialized, consumer#run must be called first');
      },
      resume: () => {
        calls.push('resume');
        if (opts.throwing) throw new Error('Consumer group was not initialized, consumer#run must be called first');
      },
      commitOffsets: async () => undefined,
      disconnect: async () => undefined,
    };
    const kafka = { consumer: () => consumer } as unknown as Kafka;
    const settler = { generation: 1, commits: () => [], committed: () => undefined };
    const ingest = { settler, pending: 0, bufferedBytes: 0, accountDown: false } as unknown as Ingest;
    const source = new SourceConsumer(kafka, config, ingest, createMetrics(), pino({ level: 'silent' }));
    return { source, calls };
  }

  it('a stop holds fetching paused: a commit after pauseAll() resumes nothing, though the backlog drained', async () => {
    const { source, calls } = paused();
    source.applyBackpressure(true);
    assert.equal(source.paused, true);
    source.pauseAll();
    source.applyBackpressure(); // what the commit timer's tick does: nothing is pending any more
    assert.deepEqual(calls, ['pause', 'pause'], 'paused for backpressure, then by the stop; never resumed');
    const running = paused();
    running.source.applyBackpressure(true);
    running.source.applyBackpressure();
    assert.deepEqual(running.calls, ['pause', 'resume'], 'without a stop, the drained backlog resumes fetching');
  });

  it('a pause or resume that kafkajs refuses (no group between a crash and its restart) is tried again, never thrown', async () => {
    const { source, calls } = paused({ throwing: true });
    source.applyBackpressure(true);
    assert.equal(source.paused, false, 'the pause did not happen, so it is not recorded as done');
    source.applyBackpressure(true);
    source.pauseAll();
    assert.deepEqual(calls, ['pause', 'pause', 'pause']);
  });
});
