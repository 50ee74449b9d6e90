import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { installResponseRemainder, releaseRemainder } from '../../src/kafka/response-remainder.js';

const require = createRequire(import.meta.url);

/** One response as a broker frames it: size, correlation id, payload. */
function frame(correlationId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + payload.length, 0);
  head.writeInt32BE(correlationId, 4);
  return Buffer.concat([head, payload]);
}

/** The state kafkajs's processData reads and writes, with a request queue that keeps what it is handed. */
function connection() {
  const fulfilled: { correlationId: number; payload: Buffer }[] = [];
  return {
    chunks: [] as Buffer[],
    bytesBuffered: 0,
    bytesNeeded: 4,
    requestQueue: { fulfillRequest: (r: { correlationId: number; payload: Buffer }) => void fulfilled.push(r) },
    fulfilled,
  };
}

describe('a connection lets go of the buffer of its last response', () => {
  it('an empty remainder becomes nothing, a short one a copy of its own, a long one stays', () => {
    const empty = { chunks: [Buffer.alloc(1 << 20).subarray(1 << 20)] };
    releaseRemainder(empty);
    assert.deepEqual(empty.chunks, []);
    const big = Buffer.alloc(1 << 20, 7);
    const short = { chunks: [big.subarray(100, 110)] };
    releaseRemainder(short);
    assert.equal(short.chunks.length, 1);
    assert.deepEqual([...short.chunks[0]!], Array(10).fill(7));
    assert.notEqual(short.chunks[0]!.buffer, big.buffer, 'a copy, not a slice of the big buffer');
    const long = { chunks: [big.subarray(10)] };
    releaseRemainder(long);
    assert.equal(long.chunks[0]!.buffer, big.buffer, 'most of the buffer: kept as it is');
    const two = { chunks: [big.subarray(0, 1), big.subarray(1, 2)] };
    releaseRemainder(two);
    assert.equal(two.chunks.length, 2, 'chunks still being gathered are left alone');
  });

  it('installed over kafkajs: whole responses are handed on, split ones are gathered, and none is kept after', () => {
    assert.equal(installResponseRemainder(), true);
    const { prototype } = require('kafkajs/src/network/connection.js') as {
      prototype: { processData(this: unknown, data: Buffer): void };
    };
    const c = connection();
    const big = frame(1, Buffer.alloc(300_000, 1));
    prototype.processData.call(c, big);
    assert.equal(c.fulfilled.length, 1);
    assert.equal(c.fulfilled[0]!.payload.length, 300_000);
    assert.deepEqual(c.chunks, [], 'nothing kept of the response once it is handed on');
    // A response split across reads, with the start of the next one behind it.
    const second = frame(2, Buffer.from('second'));
    const third = frame(3, Buffer.from('third response'));
    const stream = Buffer.concat([second, third]);
    prototype.processData.call(c, stream.subarray(0, 5));
    prototype.processData.call(c, stream.subarray(5, second.length + 6));
    assert.deepEqual(
      c.fulfilled.slice(1).map((r) => [r.correlationId, r.payload.toString()]),
      [[2, 'second']],
    );
    prototype.processData.call(c, stream.subarray(second.length + 6));
    assert.deepEqual(
      c.fulfilled.slice(1).map((r) => [r.correlationId, r.payload.toString()]),
      [
        [2, 'second'],
        [3, 'third response'],
      ],
    );
    assert.deepEqual(c.chunks, []);
    assert.equal(c.bytesBuffered, 0);
  });
});
