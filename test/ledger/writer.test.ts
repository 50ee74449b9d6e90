import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { ScriptedProducer, until } from '../support/fakes.js';

const write = (key: string, value = '{}', partition = 0) => ({ topic: 't.ledger', partition, key, value });

describe('LedgerWriter (adapter over the acked writer)', () => {
  it('calls onWritten only after the ack, keeps only the newest queued record of a key per partition, and counts what was written', async () => {
    const broker = new ScriptedProducer();
    const metrics = createMetrics();
    const writer = new LedgerWriter(broker.producer, metrics, pino({ level: 'silent' }));
    const called: string[] = [];
    writer.push(write('a', '1'), () => called.push('a1'));
    writer.push(write('a', '2'), () => called.push('a2'));
    writer.push(write('a', '1', 1), () => called.push('a@1'));
    await writer.write(write('b'));
    await until(() => called.length === 3, 'every onWritten');
    assert.deepEqual(
      broker.written.map((r) => `${r.key}@${r.partition}=${r.value}`),
      ['a@0=2', 'a@1=1', 'b@0={}'],
    );
    assert.deepEqual(called.sort(), ['a1', 'a2', 'a@1'].sort());
    assert.equal((await metrics.ledgerWrites.get()).values[0]?.value, 3);
  });

  it('never calls onWritten for a record left unwritten at close', async () => {
    const broker = new ScriptedProducer();
    broker.hold();
    const writer = new LedgerWriter(broker.producer, createMetrics(), pino({ level: 'silent' }));
    let called = false;
    writer.push(write('x'), () => (called = true));
    await until(() => broker.requests.length === 1, 'in flight');
    assert.deepEqual(await writer.close(0), { unwritten: 1 });
    broker.release();
    await until(() => broker.written.length === 1, 'the late ack');
    assert.equal(called, false);
  });
});
