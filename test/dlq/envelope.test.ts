import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import pino from 'pino';
import {
  DLQ_HEADERS,
  shrinkDeadLetterRecord,
  toDeadLetterRecord,
  type DeadLetter,
  type OutgoingRecord,
} from '../../src/dlq/envelope.js';
import { DeadLetterProducer } from '../../src/dlq/producer.js';
import { republish } from '../../src/dlq/republish.js';
import { recordBytes } from '../../src/kafka/record-size.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { ScriptedProducer, protocolError } from '../support/fakes.js';

const schema = JSON.parse(
  readFileSync(new URL('../../../schemas/dead-letter-headers.json', import.meta.url), 'utf8'),
) as object;
const ajv = new Ajv2020({ strict: true });
ajv.addFormat('date-time', { validate: (s: string) => !Number.isNaN(Date.parse(s)) });
const validate = ajv.compile(schema);
const text = (r: OutgoingRecord) =>
  Object.fromEntries(
    Object.entries(r.headers)
      .filter(([k]) => k.startsWith('dlq.'))
      .map(([k, v]) => [k, v.toString()]),
  );

function letter(
  valueBytes: number,
  headers: Record<string, Buffer> = { traceparent: Buffer.from('00-abc-01') },
  offset = 41,
): DeadLetter {
  return {
    message: {
      topic: 'src',
      partition: 2,
      offset,
      key: Buffer.from('profile-1'),
      value: Buffer.alloc(valueBytes, 0x61),
      headers,
      timestamp: 1_000,
    },
    exportName: undefined,
    stage: 'decode',
    code: 'TOO_LARGE',
    reason: 'the event is over ingest.maxEventBytes',
    attempts: 1,
  };
}

test('the headers of a dead letter, whole or cut, follow schemas/dead-letter-headers.json (and the schema can fail)', () => {
  const whole = toDeadLetterRecord(letter(100), 2_000);
  assert.ok(validate(text(whole)), JSON.stringify(validate.errors));
  const cut = shrinkDeadLetterRecord(whole, 300);
  assert.ok(validate(text(cut)), JSON.stringify(validate.errors));
  const { [DLQ_HEADERS.valueSha256]: _, ...noHash } = text(cut);
  assert.equal(validate(noHash), false, 'a cut letter must say the hash of what was cut');
  assert.equal(validate({ ...text(cut), [DLQ_HEADERS.truncated]: 'headers' }), false);
});

test('a letter over the limit is cut to fit: value first, with its size and sha256; the source position stays', () => {
  const source = letter(2_000_000);
  const cut = shrinkDeadLetterRecord(toDeadLetterRecord(source, 2_000), 1_048_000);
  assert.ok(recordBytes(cut) <= 1_048_000);
  assert.ok(cut.value!.length > 1_040_000, 'it keeps as much of the value as fits');
  const h = text(cut);
  assert.equal(h[DLQ_HEADERS.truncated], 'value');
  assert.equal(h[DLQ_HEADERS.valueBytes], '2000000');
  assert.equal(h[DLQ_HEADERS.valueSha256], createHash('sha256').update(source.message.value!).digest('hex'));
  assert.deepEqual([h[DLQ_HEADERS.topic], h[DLQ_HEADERS.partition], h[DLQ_HEADERS.offset]], ['src', '2', '41']);
  assert.equal(cut.headers.traceparent?.toString(), '00-abc-01', 'source headers kept while they fit');
});

test('when the source headers alone are over the limit they are left out (and counted), then the key is cut', () => {
  const huge = { big: Buffer.alloc(5_000, 0x62), other: Buffer.from('x') };
  const cut = shrinkDeadLetterRecord(toDeadLetterRecord(letter(10_000, huge), 2_000), 2_000);
  assert.ok(recordBytes(cut) <= 2_000);
  assert.equal(text(cut)[DLQ_HEADERS.truncated], 'value,headers');
  assert.equal(text(cut)[DLQ_HEADERS.droppedHeaders], '2');
  assert.equal(cut.headers.big, undefined);
  const longKey = toDeadLetterRecord(
    { ...letter(10), message: { ...letter(10).message, key: Buffer.alloc(4_000, 0x6b) } },
    2_000,
  );
  const keyCut = shrinkDeadLetterRecord(longKey, 1_500);
  assert.ok(recordBytes(keyCut) <= 1_500);
  assert.equal(text(keyCut)[DLQ_HEADERS.truncated], 'value,headers,key');
  assert.equal(text(keyCut)[DLQ_HEADERS.keyBytes], '4000');
  assert.ok(validate(text(keyCut)), JSON.stringify(validate.errors));
});

// kafkajs hands a header name that occurs more than once in a record as an array of its values (its record
// decoder; librdkafka producers may repeat a header). recordBytes() counted such an array as its length (2), so a
// letter whose repeated headers alone were over the limit was never cut enough: the broker refused it each time,
// it stayed stuck for ever, and its source offset was never committed. Measured here with kafkajs's own encoder.
test('a header repeated in the source record counts in full: a letter cut to fit is under the limit as kafkajs encodes it', () => {
  const require = createRequire(import.meta.url);
  const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: {
    key: Buffer | null;
    value: Buffer | null;
    headers: OutgoingRecord['headers'];
  }) => { size(): number };
  const encoded = (r: OutgoingRecord) => encodeRecord({ key: r.key, value: r.value, headers: r.headers }).size();
  const repeated = { trace: [Buffer.alloc(3_000, 0x61), Buffer.alloc(3_000, 0x62)] } as unknown as Record<
    string,
    Buffer
  >;
  const whole = toDeadLetterRecord(letter(100, repeated), 2_000);
  assert.ok(recordBytes(whole) >= encoded(whole), `an upper bound: ${recordBytes(whole)} < ${encoded(whole)}`);
  const cut = shrinkDeadLetterRecord(whole, 4_000);
  assert.ok(encoded(cut) <= 4_000, `cut to ${encoded(cut)} bytes as sent, over the 4,000-byte limit`);
  assert.equal(text(cut)[DLQ_HEADERS.droppedHeaders], '1');
});

// librdkafka may write a header with a null value; kafkajs's record encoder throws on one (Buffer.byteLength(null)),
// so such a letter could never be written and its source offset was held for ever. A header named "__proto__" set
// the object's prototype when assigned, and was lost.
test('a null header value goes as an empty one, counted; a header named __proto__ stays a header', () => {
  const require = createRequire(import.meta.url);
  const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => {
    size(): number;
  };
  const source = Object.fromEntries([
    ['x', null],
    ['rep', [Buffer.from('a'), null]],
    ['__proto__', Buffer.from('p')],
  ]) as unknown as Record<string, Buffer>;
  const r = toDeadLetterRecord(letter(100, source), 2_000);
  assert.ok(encodeRecord({ key: r.key, value: r.value, headers: r.headers }).size() > 0, 'kafkajs can encode it');
  assert.deepEqual(r.headers.x, Buffer.alloc(0));
  assert.deepEqual(r.headers.rep, [Buffer.from('a'), Buffer.alloc(0)]);
  assert.equal(text(r)[DLQ_HEADERS.nullHeaders], '2');
  assert.ok(Object.keys(r.headers).includes('__proto__'));
  assert.equal(Object.getPrototypeOf(r.headers), Object.prototype);
  assert.ok(validate(text(r)), JSON.stringify(validate.errors));
  const again = republish(
    {
      topic: 'src.dlq',
      partition: 0,
      offset: 3,
      key: r.key,
      value: r.value,
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v as Buffer)])),
      timestamp: 2_000,
    },
    3_000,
  );
  assert.ok(!('skip' in again) && Object.keys(again.headers).includes('__proto__'), JSON.stringify(again));
});

test('dlq replay does not re-publish a cut letter, and says where its source record is', () => {
  const cut = shrinkDeadLetterRecord(toDeadLetterRecord(letter(5_000), 2_000), 1_000);
  const headers = Object.fromEntries(
    Object.entries(cut.headers).map(([k, v]) => [k, Buffer.from(v as Buffer | string)]),
  );
  const again = republish(
    { topic: 'src.dlq', partition: 0, offset: 3, key: cut.key, value: cut.value, headers, timestamp: 2_000 },
    3_000,
  );
  assert.ok('skip' in again && /cut to fit.*src\/2@41/.test(again.skip), JSON.stringify(again));
});

test('DeadLetterProducer writes a letter too large for the topic cut, calls onWritten after the ack, and counts it', async () => {
  const broker = new ScriptedProducer();
  const metrics = createMetrics();
  // The topic limit cannot be read: the broker's answer is what cuts it.
  broker.refuse = (r) => (r.value.length > 500_000 ? protocolError('MESSAGE_TOO_LARGE') : undefined);
  const dlq = new DeadLetterProducer(broker.producer, '{topic}.dlq', metrics, pino({ level: 'silent' }));
  let written = 0;
  dlq.push(letter(1_200_000), () => written++);
  await dlq.write(letter(10, undefined, 42));
  const closed = await dlq.close(60_000);
  assert.deepEqual(closed, { unwritten: 0 });
  assert.equal(written, 1);
  assert.deepEqual(
    broker.written
      .map((r) => [r.topic, r.headers[DLQ_HEADERS.offset]?.toString(), r.headers[DLQ_HEADERS.truncated]?.toString()])
      .sort(),
    [
      ['src.dlq', '41', 'value'],
      ['src.dlq', '42', undefined],
    ],
  );
  assert.equal((await metrics.deadLetters.get()).values.find((v) => v.labels.code === 'TOO_LARGE')?.value, 2);
  assert.equal(
    (await metrics.writerShrunk.get()).values[0]?.value,
    3,
    'cut to the assumed 1 MiB limit, then halved per refusal: 1.2 MB → 1 MB → 524 kB → 262 kB',
  );
});

test('a source timestamp a Date cannot hold is written as its number: the letter is still written', () => {
  const bad = letter(10);
  bad.message.timestamp = 9e15;
  assert.equal(text(toDeadLetterRecord(bad, 2_000))[DLQ_HEADERS.timestamp], '9000000000000000');
  assert.equal(text(toDeadLetterRecord(letter(10), 2_000))[DLQ_HEADERS.timestamp], '1970-01-01T00:00:01.000Z');
});
