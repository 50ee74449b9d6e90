import { isUtf8 } from 'node:buffer';
import { RecordError } from '../domain/errors.js';

/**
 * Bytes → a JSON value. Confluent wire format (magic byte 0 + 4-byte schema id) is recognised here and handed
 * to `wire` (Avro through a schema registry) when one is configured. Throws RecordError(stage 'decode').
 */
export interface WireDecoder {
  decode(value: Buffer): Promise<unknown>;
}

export function isWireFormat(value: Buffer): boolean {
  return value.length >= 5 && value[0] === 0;
}

export function decodeJson(value: Buffer | null, maxBytes: number): unknown {
  if (value === null) throw new RecordError('decode', 'TOMBSTONE', 'the record has no value (a tombstone)');
  if (value.length === 0) throw new RecordError('decode', 'EMPTY_VALUE', 'the record value is empty');
  if (value.length > maxBytes)
    throw new RecordError(
      'decode',
      'TOO_LARGE',
      `the record value is ${value.length} bytes, over the ${maxBytes}-byte limit`,
    );
  // isUtf8 (simdutf) then toString costs less than a fatal TextDecoder, and refuses the same inputs.
  if (!isUtf8(value)) throw new RecordError('decode', 'NOT_UTF8', 'the record value is not valid UTF-8');
  try {
    // A leading byte-order mark is dropped, as TextDecoder does.
    const bom = value.length >= 3 && value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf;
    return JSON.parse(value.toString('utf8', bom ? 3 : 0));
  } catch (err) {
    throw new RecordError('decode', 'NOT_JSON', `the record value is not JSON: ${(err as Error).message}`);
  }
}
