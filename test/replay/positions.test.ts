import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { setStartOffsets } from '../../src/replay/positions.js';

/** A kafkajs consumer that joins but never fetches, or crashes for good when it runs. */
function fakeKafka(onRun: (emit: (event: string, payload: unknown) => void) => void) {
  const handlers = new Map<string, (e: { payload: unknown }) => void>();
  const events = new kafkajs.Kafka({ brokers: ['127.0.0.1:1'], logLevel: kafkajs.logLevel.NOTHING }).consumer({
    groupId: 'g',
  }).events;
  const calls: string[] = [];
  const consumer = {
    events,
    on: (name: string, fn: (e: { payload: unknown }) => void) => void handlers.set(name, fn),
    connect: async () => void calls.push('connect'),
    subscribe: async () => undefined,
    run: async () => onRun((event, payload) => handlers.get(event)?.({ payload })),
    pause: () => undefined,
    seek: () => undefined,
    stop: async () => undefined,
    disconnect: async () => void calls.push('disconnect'),
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const admin = { describeGroups: async () => ({ groups: [] }) } as unknown as Admin;
  return { kafka, admin, events, calls };
}

const ranges = [{ topic: 't', partition: 0, start: 5, end: 10 }];

test('setting the start offsets has a deadline: a consumer that never fetches ends it with a clear error', async () => {
  const { kafka, admin, calls } = fakeKafka(() => undefined);
  await assert.rejects(setStartOffsets(kafka, admin, 'g', ranges, 50), /start offsets could not be set \(no fetch/);
  assert.deepEqual(calls, ['connect', 'disconnect'], 'the consumer is disconnected all the same');
});

test('a consumer that crashes for good while setting the start offsets ends the wait at once', async () => {
  const { kafka, admin, events } = fakeKafka((emit) =>
    emit(events.CRASH, { error: new Error('the coordinator is not available'), restart: false }),
  );
  await assert.rejects(
    setStartOffsets(kafka, admin, 'g', ranges, 60_000),
    /could not be set \(the consumer crashed: the coordinator is not available\)/,
  );
});
