import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import {
  AckedWriter,
  DiscardedError,
  WriterClosedError,
  type AckedWriterOptions,
} from '../../src/kafka/acked-writer.js';
import { BATCH_OVERHEAD_BYTES, recordBytes } from '../../src/kafka/record-size.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { ScriptedProducer, VirtualClock, protocolError, until } from '../support/fakes.js';

interface Item {
  key: string;
  value: string;
  partition?: number;
}

function world(o: Partial<AckedWriterOptions<Item>> = {}, limit?: number) {
  const broker = new ScriptedProducer();
  const clock = new VirtualClock();
  const metrics = createMetrics();
  const admin = {
    describeConfigs: async () => ({
      resources: [{ configEntries: [{ configName: 'max.message.bytes', configValue: String(limit ?? 1_048_588) }] }],
    }),
  } as never;
  const writer = new AckedWriter<Item>({
    name: 'ledger',
    producer: broker.producer,
    admin,
    encode: (i) => ({
      topic: 't',
      key: i.key,
      value: i.value,
      ...(i.partition !== undefined ? { partition: i.partition } : {}),
    }),
    clock,
    random: () => 0,
    metrics,
    log: pino({ level: 'silent' }),
    ...o,
  });
  const outcomes = new Map<string, string>();
  const write = (key: string, value = `v-${key}`, partition?: number) => {
    const p = writer.write({ key, value, ...(partition !== undefined ? { partition } : {}) });
    p.then(
      () => outcomes.set(`${key}=${value}`, 'written'),
      (err: Error) => outcomes.set(`${key}=${value}`, err.constructor.name),
    );
    return p;
  };
  return { broker, clock, metrics, writer, write, outcomes };
}

const gauge = async (metrics: Metrics, name: 'writerStuck' | 'writerBacklog', writer = 'ledger') =>
  (await metrics[name].get()).values.find((v) => v.labels.writer === writer)?.value;
const counter = async (metrics: Metrics, reason: string) =>
  (await metrics.writerRefused.get()).values.find((v) => v.labels.writer === 'ledger' && v.labels.reason === reason)
    ?.value ?? 0;

describe('AckedWriter', () => {
  it('an item that cannot be encoded rejects alone: nothing is counted, and a queued one of its key is kept', async () => {
    const encode: AckedWriterOptions<Item>['encode'] = (i) => {
      if (i.value === 'poison') throw new RangeError('Invalid time value');
      return { topic: 't', key: i.key, value: i.value };
    };
    const { broker, write, writer } = world({ encode, coalesceKey: (i) => i.key });
    broker.hold();
    const kept = write('a', 'v1');
    await assert.rejects(write('a', 'poison'), RangeError);
    assert.equal(writer.backlog, 1, 'only the first write waits');
    broker.release();
    await kept;
    assert.deepEqual(
      broker.written.map((r) => r.value.toString()),
      ['v1'],
      'the queued record of its key went as it was',
    );
    assert.equal(writer.backlog, 0);
  });

  it('resolves a write only after the broker acknowledged it, also for writes made while a batch is in flight', async () => {
    const { broker, write, outcomes, writer } = world();
    broker.hold();
    const first = [write('a0'), write('a1')];
    await until(() => broker.requests.length === 1, 'the first request');
    write('b0');
    await until(
      () => outcomes.size > 0 || broker.requests.length > 1,
      'a second request or an early resolve',
      50,
    ).catch(() => undefined);
    assert.equal(outcomes.size, 0, 'nothing resolves before the ack');
    assert.equal(writer.backlog, 3);
    broker.release();
    await Promise.all(first);
    await until(() => outcomes.size === 3, 'every write settled');
    assert.deepEqual(broker.keysWritten(), ['a0', 'a1', 'b0']);
    assert.deepEqual([...outcomes.values()], ['written', 'written', 'written']);
    assert.equal(writer.backlog, 0);
  });

  it('keeps every request under the topic max.message.bytes it read, counting record overhead', async () => {
    const { broker, write } = world({}, 10_000);
    await Promise.all(Array.from({ length: 30 }, (_, i) => write(`k${i}`, 'x'.repeat(1_000))));
    assert.equal(broker.written.length, 30);
    assert.ok(broker.requests.length >= 4, `${broker.requests.length} requests`);
    for (const req of broker.requests)
      assert.ok(req.reduce((n, r) => n + recordBytes(r), 0) <= 10_000 - BATCH_OVERHEAD_BYTES);
  });

  it('falls back to maxMessageBytes when the topic limit cannot be read', async () => {
    const { broker, write } = world({
      admin: { describeConfigs: async () => Promise.reject(new Error('denied')) } as never,
      maxMessageBytes: 5_000,
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => write(`k${i}`, 'x'.repeat(1_000))));
    assert.ok(
      broker.requests.every((req) => req.length <= 4),
      `request sizes ${broker.requests.map((r) => r.length).join(',')}`,
    );
  });

  it('writes the others when the broker refuses one record for ever: the record is counted, shown stuck and retried alone with backoff', async () => {
    const { broker, clock, metrics, write, writer, outcomes } = world();
    let refusing = true;
    broker.refuse = (r) => (r.key === 'bad' && refusing ? protocolError('INVALID_RECORD') : undefined);
    const others = Array.from({ length: 20 }, (_, i) => (i === 7 ? write('bad') : write(`ok${i}`)));
    await Promise.all(others.filter((_, i) => i !== 7));
    assert.equal(broker.written.length, 19, 'every other record is written');
    assert.equal(outcomes.get('bad=v-bad'), undefined, 'the refused one is neither written nor given up');
    await until(() => writer.stuckRecords === 1, 'the record is stuck');
    assert.equal(await gauge(metrics, 'writerStuck'), 1);
    assert.equal(await counter(metrics, 'refused'), 1);
    // Later writes are not held behind it.
    await write('later');
    // Retried alone, on its own backoff (100, 200, 400 ms with no jitter: random() = 0).
    const before = broker.requests.filter((r) => r.some((x) => x.key === 'bad')).length;
    for (const expected of [100, 200, 400]) {
      await until(() => clock.sleeps.length === 1, 'the stuck record waits');
      assert.deepEqual(clock.sleeps, [expected]);
      clock.next();
      await until(() => clock.sleeps.length === 1, 'the next wait');
    }
    const alone = broker.requests.filter((r) => r.some((x) => x.key === 'bad'));
    assert.equal(alone.length, before + 3);
    assert.ok(
      alone.slice(before).every((r) => r.length === 1),
      'retried on its own',
    );
    refusing = false;
    clock.next();
    await others[7];
    assert.equal(writer.stuckRecords, 0);
    assert.equal(await gauge(metrics, 'writerStuck'), 0);
  });

  it('retries a batch whole, with growing backoff reset by a success, when the broker is away (no record is stuck)', async () => {
    const { broker, clock, write, writer } = world();
    broker.outages = 2;
    const a = write('a');
    await until(() => clock.sleeps.length === 1, 'first backoff');
    assert.deepEqual(clock.sleeps, [100]);
    clock.next();
    await until(() => clock.sleeps.length === 1 && broker.requests.length === 2, 'second backoff');
    assert.deepEqual(clock.sleeps, [200]);
    clock.next();
    await a;
    assert.equal(writer.stuckRecords, 0);
    broker.outages = 1;
    const b = write('b');
    await until(() => clock.sleeps.length === 1, 'backoff after the success');
    assert.deepEqual(clock.sleeps, [100], 'reset by the success');
    clock.next();
    await b;
    assert.deepEqual(broker.keysWritten(), ['a', 'b']);
  });

  it('splits a batch that keeps failing for no stated reason, so an unknown refusal cannot block the others', async () => {
    const { broker, clock, write, writer } = world({ splitAfterFailures: 2 });
    broker.refuse = (r) => (r.key === 'odd' ? new Error('something nobody knows') : undefined);
    const ok = [write('a'), write('odd'), write('b'), write('c')];
    await until(() => clock.sleeps.length === 1, 'one backoff before splitting');
    clock.next();
    await Promise.all([ok[0], ok[2], ok[3]]);
    await until(() => writer.stuckRecords === 1, 'the odd one is stuck');
  });

  it('shrinks a record the broker finds too large until it is accepted', async () => {
    const { broker, write } = world({
      shrink: (i, limit) => ({ topic: 't', key: i.key, value: i.value.slice(0, Math.max(0, limit - 100)) }),
    });
    broker.refuse = (r) => (r.value.length > 3_000 ? protocolError('MESSAGE_TOO_LARGE') : undefined);
    await write('big', 'x'.repeat(20_000));
    const [r] = broker.written;
    assert.ok(r && r.value.length <= 3_000 && r.value.length > 1_000, `written with ${r?.value.length} bytes`);
  });

  it('coalesces queued records of one key into the newest, and never has one key in flight twice', async () => {
    const { broker, write, outcomes } = world({ coalesceKey: (i) => i.key });
    const queued = [write('k', '1'), write('k', '2'), write('k', '3')];
    await Promise.all(queued);
    assert.deepEqual(
      broker.written.map((r) => r.value.toString()),
      ['3'],
      'only the newest queued record is sent',
    );
    broker.hold();
    const inFlight = write('k', '4');
    await until(() => broker.requests.length === 2, 'k=4 in flight');
    const next = [write('k', '5'), write('k', '6'), write('j', '1')];
    broker.release();
    await Promise.all([inFlight, ...next]);
    assert.deepEqual(
      broker.requests.map((req) => req.map((r) => `${r.key}=${r.value}`)),
      [['k=3'], ['k=4'], ['k=6', 'j=1']],
    );
    assert.equal(broker.maxInFlight, 1, 'one request at a time: k=5/6 waited for k=4');
    assert.equal(outcomes.get('k=5'), 'written', 'the replaced record settles with the newer one');
  });

  it('a newer record replaces a stuck one of its key, and an older one never lands after it', async () => {
    const { broker, write, writer } = world({ coalesceKey: (i) => i.key });
    broker.refuse = (r) => (r.value.toString() === 'poison' ? protocolError('INVALID_RECORD') : undefined);
    const old = write('k', 'poison');
    await until(() => writer.stuckRecords === 1, 'stuck');
    await Promise.all([write('k', 'fine'), old]);
    assert.deepEqual(
      broker.written.map((r) => r.value.toString()),
      ['fine'],
    );
    assert.equal(writer.stuckRecords, 0);
  });

  it('close() writes what it can until the deadline, then rejects the rest with WriterClosedError; idempotent; later writes reject', async () => {
    const { broker, clock, write, writer, outcomes } = world();
    broker.refuse = (r) => (r.key === 'bad' ? protocolError('INVALID_RECORD') : undefined);
    const good = write('good');
    const bad = write('bad');
    await good;
    await until(() => writer.stuckRecords === 1, 'stuck');
    const closing = writer.close(5_000);
    assert.equal(writer.close(1), closing, 'the same close');
    await assert.rejects(write('after'), WriterClosedError);
    clock.advance(5_000);
    assert.deepEqual(await closing, { unwritten: 1 });
    await assert.rejects(bad, WriterClosedError);
    assert.equal(outcomes.get('good=v-good'), 'written');
  });

  it('close() resolves at once with nothing unwritten when everything is acknowledged', async () => {
    const { write, writer, clock } = world();
    await write('a');
    const closing = writer.close(60_000);
    assert.deepEqual(await closing, { unwritten: 0 });
    assert.deepEqual(clock.sleeps, [], 'no deadline timer left behind');
  });

  it('discard() drops queued items (DiscardedError); a discarded item in flight is not retried; whenIdle() waits for the send in flight', async () => {
    const { broker, clock, write, writer, outcomes } = world();
    broker.hold();
    broker.outages = 1;
    const inFlight = [write('p1-a', 'x', 1), write('p2-a', 'x', 2)];
    await until(() => broker.requests.length === 1, 'in flight');
    const queued = [write('p1-b', 'x', 1), write('p2-b', 'x', 2)];
    assert.equal(
      writer.discard((i) => i.partition === 1),
      1,
    );
    await assert.rejects(queued[0]!, DiscardedError);
    let idle = false;
    const whenIdle = writer.whenIdle().then(() => (idle = true));
    await until(() => false, 'a few turns', 20).catch(() => undefined);
    assert.equal(idle, false, 'the request is still in flight');
    broker.release();
    await whenIdle;
    await assert.rejects(inFlight[0]!, DiscardedError);
    clock.next();
    await Promise.all([inFlight[1], queued[1]]);
    assert.deepEqual(broker.keysWritten().sort(), ['p2-a', 'p2-b']);
    assert.ok(
      !broker.requests.slice(1).some((r) => r.some((x) => x.key.startsWith('p1'))),
      'nothing of partition 1 is sent again',
    );
    assert.equal(outcomes.get('p1-a=x'), 'DiscardedError');
  });

  it('an item discarded while its batch is in flight is settled (DiscardedError) when that batch is split, never sent again', async () => {
    const { broker, write, writer } = world();
    broker.refuse = (r) => (r.key === 'bad' ? protocolError('INVALID_RECORD') : undefined);
    broker.hold();
    const gone = write('p1-a', 'x', 1);
    const bad = write('bad', 'x', 2);
    const kept = write('p2-a', 'x', 2);
    await until(() => broker.requests.length === 1, 'in flight');
    assert.equal(
      writer.discard((i) => i.partition === 1),
      0,
      'nothing queued: it is in flight',
    );
    broker.release();
    await assert.rejects(gone, DiscardedError);
    await kept;
    await until(() => writer.stuckRecords === 1, 'the bad one is stuck');
    assert.ok(!broker.requests.slice(1).some((r) => r.some((x) => x.key === 'p1-a')));
    assert.equal(writer.backlog, 1, 'only the stuck one is left');
    void bad.catch(() => undefined);
    assert.deepEqual(await writer.close(0), { unwritten: 1 });
  });
});
