import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJson, isWireFormat } from '../../src/ingest/decode.js';
import { RecordError } from '../../src/domain/errors.js';

const MAX = 1_024;

function refused(value: Buffer | null, code: string): RecordError {
  let caught: unknown;
  try {
    decodeJson(value, MAX);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof RecordError, `expected a RecordError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.stage, 'decode');
  assert.equal(caught.retriable, false);
  return caught;
}

describe('decodeJson', () => {
  it('a tombstone (null value)', () => {
    refused(null, 'TOMBSTONE');
  });

  it('an empty value', () => {
    refused(Buffer.alloc(0), 'EMPTY_VALUE');
  });

  it('a value over the size limit, but not one at it', () => {
    const at = Buffer.from(JSON.stringify({ pad: 'x'.repeat(MAX - 10) }));
    assert.equal(at.length, MAX);
    assert.deepEqual(decodeJson(at, MAX), { pad: 'x'.repeat(MAX - 10) });
    const over = Buffer.from(JSON.stringify({ pad: 'x'.repeat(MAX - 9) }));
    assert.match(refused(over, 'TOO_LARGE').message, /1025 bytes, over the 1024-byte limit/);
  });

  it('bytes that are not UTF-8', () => {
    refused(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'NOT_UTF8');
    refused(Buffer.from([0xc3]), 'NOT_UTF8');
  });

  it('a leading UTF-8 byte-order mark is dropped; overlong forms and lone surrogates are not UTF-8', () => {
    assert.deepEqual(decodeJson(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"é"}')]), MAX), {
      a: 'é',
    });
    refused(Buffer.from([0x22, 0xc0, 0xaf, 0x22]), 'NOT_UTF8');
    refused(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'NOT_UTF8');
  });

  it('text that is not JSON', () => {
    for (const text of ['{"eventId":', 'hello', "{'a':1}", '{"a":1} trailing']) {
      refused(Buffer.from(text), 'NOT_JSON');
    }
  });

  it('valid JSON of any shape (validation comes next)', () => {
    assert.deepEqual(decodeJson(Buffer.from('{"eventId":"e","profile":{"firstName":"Zoë"}}'), MAX), {
      eventId: 'e',
      profile: { firstName: 'Zoë' },
    });
    assert.deepEqual(decodeJson(Buffer.from(' [1, 2] \n'), MAX), [1, 2]);
    assert.equal(decodeJson(Buffer.from('null'), MAX), null);
    assert.equal(decodeJson(Buffer.from('"text"'), MAX), 'text');
  });
});

describe('isWireFormat', () => {
  it('magic byte 0 followed by a 4-byte schema id', () => {
    assert.equal(isWireFormat(Buffer.from([0, 0, 0, 0, 7])), true);
    assert.equal(isWireFormat(Buffer.from([0, 0, 0, 1, 2, 0x0a, 0x65])), true);
  });

  it('JSON text and short values are not', () => {
    assert.equal(isWireFormat(Buffer.from('{"eventId":"e"}')), false);
    assert.equal(isWireFormat(Buffer.from([0, 0, 0, 7])), false);
    assert.equal(isWireFormat(Buffer.from([1, 0, 0, 0, 7])), false);
    assert.equal(isWireFormat(Buffer.alloc(0)), false);
  });
});
