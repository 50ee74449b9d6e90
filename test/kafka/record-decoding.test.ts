import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import {
  decodeRecord,
  gatherHeaders,
  installRecordDecoding,
  kafkajsDecodeRecord,
} from '../../src/kafka/record-decoding.js';

/**
 * The record decoder with linear header gathering against kafkajs's own: the same record out for keys, values,
 * timestamps (create and log-append time), offsets and headers unique, repeated and null; for names that
 * Object.prototype has, the value itself (kafkajs gave [an inherited function, the value]).
 */
const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => { buffer: Buffer };

/** One record's bytes after its length, as the batch decoder hands them to the record decoder. */
function recordBytes(r: object): Buffer {
  const d = new Decoder(Record(r).buffer) as { readVarInt(): number; readAll(): Buffer };
  d.readVarInt();
  return d.readAll();
}

const context = { firstOffset: '1000', firstTimestamp: '1764000000000', magicByte: 2, timestampType: 0 };
type Decode = (d: never, c?: object) => unknown;
const decodeWith = (f: Decode, bytes: Buffer, c: object = context) => f(new Decoder(bytes) as never, c);

describe('the record decoder with linear headers', () => {
  it('decodes what kafkajs decodes', () => {
    const records = [
      { offsetDelta: 0, timestampDelta: 0, key: null, value: null },
      { offsetDelta: 7, timestampDelta: 1234, key: 'k', value: 'v', headers: { a: '1', b: Buffer.from([0, 255]) } },
      { offsetDelta: 300, timestampDelta: 5, key: 'k', value: 'é'.repeat(200), headers: { rep: ['x', 'y', 'z'] } },
      { offsetDelta: 1, timestampDelta: 0, key: '', value: '', headers: { two: ['1', '2'], one: 'only' } },
    ];
    for (const r of records) {
      const bytes = recordBytes(r);
      assert.deepEqual(decodeWith(decodeRecord as Decode, bytes), decodeWith(kafkajsDecodeRecord() as Decode, bytes));
      const logAppend = { ...context, timestampType: 1, maxTimestamp: '1764000009999', isControlBatch: true };
      assert.deepEqual(
        decodeWith(decodeRecord as Decode, bytes, logAppend),
        decodeWith(kafkajsDecodeRecord() as Decode, bytes, logAppend),
      );
    }
  });

  it('sums offsets and timestamps as kafkajs does, past 2^53 and with deltas of any size or sign', () => {
    const deltas = [0, 1, -1, 63, -64, 64, 2 ** 31, -(2 ** 40), 2 ** 48 - 1, -(2 ** 48), 2 ** 49, 2 ** 52, -(2 ** 55)];
    const bases = [
      { firstOffset: '0', firstTimestamp: '-1' },
      { firstOffset: '1000', firstTimestamp: '1764000000000' },
      { firstOffset: '9007199254740990', firstTimestamp: '9007199254740000' }, // sums pass 2^53: kafkajs's way
      { firstOffset: '9223372036854775000', firstTimestamp: '-9007199254740993' },
    ];
    const kafkajs = kafkajsDecodeRecord() as Decode;
    for (const base of bases)
      for (const timestampDelta of deltas)
        for (const offsetDelta of [0, 5, 2 ** 30]) {
          const bytes = recordBytes({ offsetDelta, timestampDelta, key: 'k', value: 'v' });
          // A fresh context each time, then the same one again: the bases remembered per batch are the right ones.
          const c = { ...context, ...base };
          const theirs = decodeWith(kafkajs, bytes, c) as { offset: string; timestamp: string };
          assert.deepEqual(decodeWith(decodeRecord as Decode, bytes, c), theirs);
          assert.deepEqual(decodeWith(decodeRecord as Decode, bytes, c), theirs);
          assert.equal(typeof theirs.offset, 'string');
        }
    // A truncated varlong reads as kafkajs reads it.
    const cut = recordBytes({ offsetDelta: 1, timestampDelta: 2 ** 40, key: 'k', value: 'v' }).subarray(0, 3);
    assert.deepEqual(
      (decodeWith(decodeRecord as Decode, cut) as { timestamp: string }).timestamp,
      (decodeWith(kafkajs, cut) as { timestamp: string }).timestamp,
    );
  });

  it('gathers 100,000 headers (kafkajs spread its object at each one: the square of their count)', () => {
    const list = Array.from({ length: 100_000 }, (_, i) => ({ key: `h${i % 50_000}`, value: Buffer.from([i % 256]) }));
    const headers = gatherHeaders(list);
    assert.equal(Object.keys(headers).length, 50_000);
    assert.deepEqual(headers.h7, [Buffer.from([7]), Buffer.from([50_007 % 256])]);
  });

  it('gives a header named like an Object.prototype member its own value', () => {
    const bytes = recordBytes({ key: 'k', value: 'v', headers: { constructor: 'c', toString: 't', __proto__x: 'p' } });
    const theirs = decodeWith(kafkajsDecodeRecord() as Decode, bytes) as { headers: Record<string, unknown> };
    assert.ok(Array.isArray(theirs.headers.constructor), 'kafkajs: [Object, value]');
    const ours = decodeWith(decodeRecord as Decode, bytes) as { headers: Record<string, unknown> };
    assert.deepEqual(ours.headers.constructor, Buffer.from('c'));
    assert.deepEqual(ours.headers.toString, Buffer.from('t'));
    const proto = gatherHeaders([{ key: '__proto__', value: Buffer.from('x') }]);
    assert.deepEqual(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, Buffer.from('x'));
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  });

  it('is installed before kafkajs first fetches, and used by its batch decoder', () => {
    assert.equal(installRecordDecoding(), true);
    assert.equal(installRecordDecoding(), true, 'idempotent');
    assert.equal(require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js'), decodeRecord);
  });
});
