import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IHeaders } from 'kafkajs';
import { DLQ_HEADERS, toDeadLetterRecord } from '../../src/dlq/envelope.js';
import { DeadLetterTally, formatInspect, REPLAYED_AT, REPLAYED_FROM } from '../../src/dlq/inspect.js';
import { rawHeaders, repeatedHeaders, type StoredRecord } from '../../src/kafka/read-to-end.js';
import { matches, republish } from '../../src/dlq/republish.js';

/** A dead letter as the service writes it (toDeadLetterRecord), read back as stored bytes. */
function stored(
  code: string,
  stage: 'map' | 'decode' | 'deliver',
  email: string | undefined,
  failedAt: number,
  offset = 7,
): StoredRecord {
  const value =
    email === undefined
      ? Buffer.from('not json')
      : Buffer.from(JSON.stringify({ eventId: 'e1', segmentId: 's', op: 'add', profile: { id: 'p1', email } }));
  const out = toDeadLetterRecord(
    {
      message: {
        topic: 'src',
        partition: 2,
        offset: 41,
        key: Buffer.from('p1'),
        value,
        headers: { traceparent: Buffer.from('00-abc-01'), bin: Buffer.from([0xff, 0x00]) },
        timestamp: 1_000,
      },
      exportName: stage === 'deliver' ? 'vip' : undefined,
      stage,
      code,
      reason: `refused for ${email ?? 'someone'}`,
      attempts: 1,
    },
    failedAt,
  );
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(out.headers)) headers[k] = Buffer.isBuffer(v) ? v : Buffer.from(v as string);
  return { topic: 'src.dlq', partition: 0, offset, key: out.key, value: out.value, headers, timestamp: failedAt };
}

const T = Date.parse('2026-11-28T10:00:00Z');

test('the filter matches stage, code and the time of dead-lettering', () => {
  const r = stored('UNMAPPED_SEGMENT', 'map', 'ana@example.com', T);
  assert.equal(matches(r, {}), true);
  assert.equal(matches(r, { stage: 'map', code: 'UNMAPPED_SEGMENT', since: T }), true);
  assert.equal(matches(r, { stage: 'decode' }), false);
  assert.equal(matches(r, { code: 'NOT_JSON' }), false);
  assert.equal(matches(r, { since: T + 1 }), false);
  const undated = { ...r, headers: { ...r.headers } };
  delete undated.headers[DLQ_HEADERS.failedAt];
  assert.equal(matches(undated, { since: 0 }), false, 'no time: not "since" anything');
});

test('a re-published record: same key, value and source headers (binary kept), no dlq.* header, a trace, its source partition', () => {
  const r = stored('UNMAPPED_SEGMENT', 'map', 'ana@example.com', T);
  r.headers[REPLAYED_AT] = Buffer.from('2026-01-01T00:00:00.000Z'); // replayed once before
  const again = republish(r, T + 5_000);
  assert.ok(!('skip' in again));
  assert.equal(again.topic, 'src');
  assert.equal(again.partition, 2);
  assert.equal(again.key?.toString(), 'p1');
  assert.deepEqual(again.value, r.value);
  assert.deepEqual(again.headers.bin, Buffer.from([0xff, 0x00]));
  assert.equal(String(again.headers.traceparent), '00-abc-01');
  assert.equal(again.headers[REPLAYED_AT], '2026-11-28T10:00:05.000Z');
  assert.equal(again.headers[REPLAYED_FROM], 'src.dlq/0@7');
  assert.deepEqual(
    Object.keys(again.headers)
      .filter((k) => k.startsWith('dlq.'))
      .sort(),
    [REPLAYED_AT, REPLAYED_FROM].sort(),
  );
  const orphan = { ...r, headers: {} };
  assert.deepEqual(republish(orphan, T), { skip: `no ${DLQ_HEADERS.topic} header` });
});

test('inspect counts by stage and code, largest first, with a few samples whose emails are masked', () => {
  const tally = new DeadLetterTally(2);
  for (let i = 0; i < 3; i++) tally.add(stored('UNMAPPED_SEGMENT', 'map', `ana${i}@example.com`, T, i));
  tally.add(stored('NOT_JSON', 'decode', undefined, T));
  tally.add(stored('INVALID_CONTACT', 'deliver', 'bob@example.org', T));
  const groups = tally.report();
  assert.equal(tally.total, 5);
  assert.deepEqual(
    groups.map((g) => [g.stage, g.code, g.count, g.samples.length]),
    [
      ['map', 'UNMAPPED_SEGMENT', 3, 2],
      ['decode', 'NOT_JSON', 1, 1],
      ['deliver', 'INVALID_CONTACT', 1, 1],
    ],
  );
  const text = formatInspect('src.dlq', tally.total, groups).join('\n');
  assert.match(text, /^src\.dlq: 5 dead letters/);
  assert.match(text, /map\/UNMAPPED_SEGMENT +3/);
  assert.match(text, /a\*\*\*@e\*\*\*\.com/);
  assert.match(text, /src\/2@41 +export vip +b\*\*\*@e\*\*\*\.org/);
  assert.doesNotMatch(text, /ana0@|bob@example/, 'no email in clear, in samples or reasons');
});

test('a header the source record held more than once is re-published with all its values, in order', () => {
  // What kafkajs hands the reader for the letter: a repeated name as the array of its values (one was null).
  const read = {
    tag: [Buffer.from('a'), null, Buffer.from('c')],
    toString: Buffer.from('once'),
    [DLQ_HEADERS.topic]: Buffer.from('src'),
  } as unknown as IHeaders; // kafkajs's type has no null; librdkafka writes one
  const r: StoredRecord = {
    topic: 'src.dlq',
    partition: 0,
    offset: 3,
    key: null,
    value: Buffer.from('{}'),
    headers: rawHeaders(read),
    repeated: repeatedHeaders(read),
    timestamp: T,
  };
  assert.deepEqual(r.headers.tag, Buffer.from('a'), 'headers: the first value');
  assert.deepEqual(Object.keys(r.repeated ?? {}), ['tag'], 'only the repeated name');
  const again = republish(r, T);
  assert.ok(!('skip' in again));
  assert.deepEqual(again.headers.tag, [Buffer.from('a'), Buffer.alloc(0), Buffer.from('c')]);
  assert.deepEqual(again.headers.toString, Buffer.from('once'), 'a name that is also an Object method stays its own');
  assert.equal(repeatedHeaders({ one: Buffer.from('x'), single: [Buffer.from('y')] }), undefined, 'nothing repeats');
});
