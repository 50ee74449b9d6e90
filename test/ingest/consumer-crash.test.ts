import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs, { type Kafka } from 'kafkajs';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { SourceConsumer } from '../../src/ingest/consumer.js';
import type { Pipeline } from '../../src/ingest/pipeline.js';
import { createMetrics } from '../../src/observability/metrics.js';

/**
 * SourceConsumer's answer to kafkajs's CRASH event, without a broker: a crash kafkajs restarts from is counted;
 * one it does not restart from resolves `fatal` with the reason, and from then on nothing is committed.
 * (test/integration/consumer-crash.test.ts provokes a real one against the broker.)
 */
const config = parseConfig({
  kafka: { brokers: ['127.0.0.1:1'], topics: ['t'] },
  connections: { main: { apiUrl: 'http://127.0.0.1:1', apiKey: { value: 'k' }, privacyAcknowledged: true } },
  exports: [{ name: 'vip', segmentId: 'vip', connection: 'main', listId: '1' }],
});

/** Only what the constructor, commit() and stop() use of kafkajs's consumer. */
function setup() {
  const handlers = new Map<string, (e: { payload: Record<string, unknown> }) => void>();
  const commits: unknown[] = [];
  const consumer = {
    // kafkajs's own event names (building a consumer connects nothing).
    events: new kafkajs.Kafka({ brokers: ['127.0.0.1:1'], logLevel: kafkajs.logLevel.NOTHING }).consumer({ groupId: 'g' }).events,
    on: (name: string, fn: (e: { payload: Record<string, unknown> }) => void) => void handlers.set(name, fn),
    commitOffsets: async (offsets: unknown) => void commits.push(offsets),
    disconnect: async () => undefined,
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const settler = { generation: 1, commits: () => [{ topic: 't', partition: 0, offset: '5' }], committed: () => undefined };
  const pipeline = { settler, assign: () => undefined } as unknown as Pipeline;
  const metrics = createMetrics();
  const source = new SourceConsumer(kafka, config, pipeline, metrics, pino({ level: 'silent' }));
  const crash = (restart: boolean, error: Error) => handlers.get(consumer.events.CRASH)!({ payload: { error, restart, groupId: 'g' } });
  // A group join ends the rebalancing state, in which nothing is committed.
  handlers.get(consumer.events.GROUP_JOIN)!({ payload: { memberAssignment: {} } });
  return { source, crash, commits, metrics };
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
    const settled = await Promise.race([source.fatal.then(() => 'fatal'), new Promise((r) => setImmediate(() => r('pending')))]);
    assert.equal(settled, 'pending', 'a retriable crash is not fatal');
  });

  it('a non-retriable crash resolves fatal with the reason, is not counted as a restart, and nothing is committed after it', async () => {
    const { source, crash, commits, metrics } = setup();
    await source.commit();
    assert.equal(commits.length, 1, 'commits before the crash');
    crash(false, new Error('LZ4 compression not implemented'));
    assert.equal(await source.fatal, 'the Kafka consumer crashed on a non-retriable error: Error: LZ4 compression not implemented');
    await source.commit();
    await source.stop().catch(() => undefined);
    assert.equal(commits.length, 1, 'no commit after the crash, not even the final one of stop()');
    assert.equal(await restarts(metrics), 0);
  });
});
