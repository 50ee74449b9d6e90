import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { retain, type SourceMessage } from '../../src/ingest/source.js';
import { PartitionTracker } from '../../src/offsets/tracker.js';

describe('retain: what an unsettled event keeps of its record', () => {
  const fetch = Buffer.from('xxKEY{"v":"é"}\u00ffyy', 'latin1');
  const message = (over: Partial<SourceMessage> = {}): SourceMessage => ({
    topic: 't',
    partition: 2,
    offset: 7,
    key: fetch.subarray(2, 5),
    value: fetch.subarray(5, 15),
    headers: {},
    timestamp: 1_000,
    ...over,
  });

  it('copies key and value byte for byte, sharing no memory with the fetch response', () => {
    const kept = retain(message());
    assert.deepEqual(kept.key, Buffer.from('KEY'));
    assert.deepEqual(kept.value, fetch.subarray(5, 15));
    fetch[5] = 0x21; // the fetch response is reused or freed: the kept copy does not change
    assert.notDeepEqual(kept.value, fetch.subarray(5, 15));
    assert.equal(kept.value![0], 0x7b);
    fetch[5] = 0x7b;
    assert.equal(kept.keptBytes, 3 + 10);
    assert.deepEqual([kept.topic, kept.partition, kept.offset, kept.timestamp], ['t', 2, 7, 1_000]);
  });

  it('keeps a null key and a null value null, and copies headers', () => {
    const header = fetch.subarray(0, 2);
    const kept = retain(message({ key: null, value: null, headers: { a: header, b: 'text' } }));
    assert.equal(kept.key, null);
    assert.equal(kept.value, null);
    assert.deepEqual(kept.headers, { a: Buffer.from('xx'), b: 'text' });
    assert.notEqual(kept.headers.a, header);
    assert.equal(kept.keptBytes, 1 + 2 + 1 + 4);
  });
});

describe('retain: header names', () => {
  it('keeps a header named __proto__ as a header (an assignment would have set the prototype) and a null value', () => {
    const headers = Object.fromEntries([
      ['__proto__', Buffer.from('p')],
      ['n', null],
    ]) as SourceMessage['headers'];
    const kept = retain({ topic: 't', partition: 0, offset: 1, key: null, value: null, headers, timestamp: 0 });
    assert.deepEqual(Object.keys(kept.headers), ['__proto__', 'n']);
    assert.equal(Object.getPrototypeOf(kept.headers), Object.prototype);
    assert.equal(kept.headers.n, null);
    assert.equal(kept.keptBytes, '__proto__'.length + 1 + 'n'.length);
  });
});

describe('retain: a header repeated in the record', () => {
  // kafkajs hands a repeated header as an array of slices of the fetch response: kept as it was, it pinned the
  // whole response (up to 4 MiB) and counted as its length in buffer.maxBufferedBytes.
  it('copies each value and counts its bytes', () => {
    const fetch = Buffer.alloc(4_096, 0x61);
    const values = [fetch.subarray(0, 100), fetch.subarray(100, 300)];
    const m: SourceMessage = {
      topic: 't',
      partition: 0,
      offset: 1,
      key: null,
      value: null,
      headers: { h: values } as unknown as SourceMessage['headers'],
      timestamp: 0,
    };
    const kept = retain(m);
    const copies = kept.headers.h as unknown as Buffer[];
    assert.ok(Array.isArray(copies));
    assert.deepEqual(copies, values);
    for (const c of copies) assert.notEqual(c.buffer, fetch.buffer, 'no slice of the fetch response');
    assert.equal(kept.keptBytes, 1 + 100 + 1 + 200, 'the name once per value, as it is sent');
  });
});

describe('PartitionTracker.retain', () => {
  it('counts the bytes of an offset until commit() passes it', () => {
    const t = new PartitionTracker();
    t.begin(0, 1);
    t.retain(100);
    t.begin(1, 1);
    t.retain(50);
    assert.equal(t.retained, 150);
    t.settle(1, 0);
    assert.equal(t.commit(), undefined, 'offset 0 still open');
    assert.equal(t.retained, 150, 'a settled offset behind an open one still counts');
    t.settle(0, 0);
    assert.equal(t.commit(), 2);
    assert.equal(t.retained, 0);
  });
});
