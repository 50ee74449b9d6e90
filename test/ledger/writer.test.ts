import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Producer } from 'kafkajs';
import pino from 'pino';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { createMetrics } from '../../src/observability/metrics.js';

/** A producer that records what it is sent; `failNext` makes the next sendBatch throw. */
function fakeProducer() {
  const sent: string[] = [];
  const state = { failNext: 0 };
  const producer = {
    sendBatch: async ({ topicMessages }: { topicMessages: { messages: { key: string }[] }[] }) => {
      await Promise.resolve();
      if (state.failNext > 0) {
        state.failNext--;
        throw new Error('broker down');
      }
      for (const t of topicMessages) for (const m of t.messages) sent.push(m.key);
    },
  } as unknown as Producer;
  return { producer, sent, state };
}

const write = (key: string) => ({ topic: 't.ledger', partition: 0, key, value: '{}' });

describe('LedgerWriter', () => {
  it('writes every record in order and calls onWritten only after the write, also for records pushed while a write is under way', async () => {
    const { producer, sent } = fakeProducer();
    const writer = new LedgerWriter(producer, createMetrics(), pino({ level: 'silent' }));
    const written: string[] = [];
    for (let i = 0; i < 5; i++) {
      writer.push(write(`a${i}`), () => {
        assert.ok(sent.includes(`a${i}`), 'acknowledged before onWritten');
        written.push(`a${i}`);
        // Pushed from a callback and from a later microtask: both while the loop is ending.
        if (i === 4) {
          writer.push(write('b0'), () => written.push('b0'));
          void Promise.resolve().then(() => writer.push(write('b1'), () => written.push('b1')));
        }
      });
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sent, ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1']);
    assert.deepEqual(written, sent);
  });

  it('retries a failed write before anything queued after it, and calls nothing back until it succeeds', async () => {
    const { producer, sent, state } = fakeProducer();
    const writer = new LedgerWriter(producer, createMetrics(), pino({ level: 'silent' }));
    state.failNext = 1;
    const written: string[] = [];
    writer.push(write('x'), () => written.push('x'));
    await new Promise((r) => setImmediate(r));
    writer.push(write('y'), () => written.push('y'));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(written, [], 'nothing acknowledged during the backoff');
    await writer.flush();
    assert.deepEqual(sent, ['x', 'y']);
    assert.deepEqual(written, ['x', 'y']);
  });
});
