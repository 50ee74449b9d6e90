import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs, { type Kafka } from 'kafkajs';
import pino from 'pino';
import { SourceConsumer } from '../../src/ingest/consumer.js';
import type { Ingest } from '../../src/ingest/ingest.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { Ownership } from '../../src/offsets/ownership.js';
import { Settler } from '../../src/offsets/settler.js';
import { offlineConfig } from '../support/offline-config.js';

/**
 * SourceConsumer's answer to the fetches kafkajs resolves itself, without calling eachBatch (runner.js: a batch
 * "empty due to filtering"), against the real Settler: only its END_BATCH_PROCESS event tells of them.
 */
const config = offlineConfig();

function setup() {
  const handlers = new Map<string, (e: { payload: Record<string, unknown> }) => void>();
  const commits: { topic: string; partition: number; offset: string }[][] = [];
  const consumer = {
    events: new kafkajs.Kafka({ brokers: ['127.0.0.1:1'], logLevel: kafkajs.logLevel.NOTHING }).consumer({
      groupId: 'g',
    }).events,
    on: (name: string, fn: (e: { payload: Record<string, unknown> }) => void) => void handlers.set(name, fn),
    commitOffsets: async (offsets: { topic: string; partition: number; offset: string }[]) =>
      void commits.push(offsets),
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const ownership = new Ownership();
  const settler = new Settler(ownership, createMetrics(), pino({ level: 'silent' }));
  const pipeline = {
    settler,
    assign: (a: Record<string, number[]>) => (ownership.assign(a), settler.assign()),
  } as unknown as Ingest;
  const source = new SourceConsumer(kafka, config, pipeline, createMetrics(), pino({ level: 'silent' }));
  handlers.get(consumer.events.GROUP_JOIN)!({ payload: { memberAssignment: { t: [0] } } });
  const endBatch = (payload: Record<string, unknown>) =>
    handlers.get(consumer.events.END_BATCH_PROCESS)!({ payload: { topic: 't', partition: 0, ...payload } });
  return { source, settler, ownership, commits, endBatch };
}

describe('SourceConsumer: fetches kafkajs resolves itself', () => {
  it('a fetch of transaction markers only counts as seen', async () => {
    const { source, settler, ownership, commits, endBatch } = setup();
    settler.begin('t', 0, 9, 1);
    settler.end(
      { message: { topic: 't', partition: 0, offset: 9 }, generation: ownership.generation, share: 0 },
      'delivered',
    );
    endBatch({ batchSize: 0, firstOffset: '10', lastOffset: '11' });
    await source.commit();
    assert.deepEqual(commits.at(-1), [{ topic: 't', partition: 0, offset: '12' }]);
  });

  // A record batch whose records after the fetched offset were compacted away comes back with only the records
  // before it: kafkajs reports no first offset and resolves the fetched offset itself (batch.js lastOffset()),
  // one offset per fetch, to the batch's end. Those offsets hold no record; ignored, the partition's commit
  // stayed at the first of them for as long as no record came after (a lag that never drained).
  it('a fetch of records before the fetched offset only (the rest compacted away) counts as seen', async () => {
    const { source, settler, ownership, commits, endBatch } = setup();
    settler.begin('t', 0, 104, 1);
    settler.end(
      { message: { topic: 't', partition: 0, offset: 104 }, generation: ownership.generation, share: 0 },
      'delivered',
    );
    for (let fetched = 105; fetched <= 109; fetched++)
      endBatch({ batchSize: 0, firstOffset: null, lastOffset: String(fetched) });
    await source.commit();
    assert.deepEqual(commits.at(-1), [{ topic: 't', partition: 0, offset: '110' }]);
  });

  it('still never skips past an offset it has not seen', async () => {
    const { source, settler, commits, endBatch } = setup();
    settler.begin('t', 0, 104, 1); // open
    endBatch({ batchSize: 0, firstOffset: null, lastOffset: '105' });
    endBatch({ batchSize: 0, firstOffset: null, lastOffset: '107' }); // 106 never seen: not a continuation
    await source.commit();
    assert.deepEqual(commits, [], 'nothing settled from the start: nothing committed');
    assert.equal(settler.seen('t', 0), 105);
  });
});
