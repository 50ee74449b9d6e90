import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { mulberry32, sampleEvents } from '../../src/dev/sample/events.js';
import { reasonOf } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The poison suite: many kinds of bad input mixed into 10,000 good events. Every good event reaches the
 * simulator; every bad one lands in `<topic>.dlq` with its stage, code, key, value and headers; nothing else does;
 * the consumer never stops and the committed offsets reach the end.
 */
const segments = ['vip', 'newsletter', 'churn'];
const MAX_EVENT_BYTES = 2_048;
const PER_KIND = 3;
const w = world({
  segments,
  simulator: { timeScale: 20, lists: [1, 2, 3, 4].map((i) => ({ id: String(i), name: `L${i}` })) },
});

const event = (n: number, patch: Record<string, unknown> = {}, profile: Record<string, unknown> = {}) => ({
  eventId: `bad-${n}`,
  occurredAt: '2026-11-28T12:00:00Z',
  segmentId: 'vip',
  op: 'add',
  ...patch,
  profile: { id: `bp-${n}`, email: `bad${n}@example.com`, ...profile },
});
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

interface Kind {
  name: string;
  stage: string;
  code: string;
  /** A fragment the dead letter's error message must contain. */
  says?: string;
  value: (n: number) => Buffer | null;
}

const kinds: Kind[] = [
  { name: 'tombstone', stage: 'decode', code: 'TOMBSTONE', value: () => null },
  { name: 'empty value', stage: 'decode', code: 'EMPTY_VALUE', value: () => Buffer.alloc(0) },
  {
    name: 'binary garbage',
    stage: 'decode',
    code: 'NOT_UTF8',
    value: (n) => Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, n & 0xff, 0x00, 0xc0]),
  },
  {
    name: 'invalid UTF-8 inside JSON',
    stage: 'decode',
    code: 'NOT_UTF8',
    value: (n) =>
      Buffer.concat([
        Buffer.from(JSON.stringify(event(n)).slice(0, -2)),
        Buffer.from(',"firstName":"Jo'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}}'),
      ]),
  },
  { name: 'not JSON', stage: 'decode', code: 'NOT_JSON', value: (n) => Buffer.from(`profile bp-${n} entered vip`) },
  { name: 'truncated JSON', stage: 'decode', code: 'NOT_JSON', value: (n) => json(event(n)).subarray(0, 40) },
  { name: 'JSON array', stage: 'validate', code: 'INVALID_EVENT', value: (n) => json([event(n)]) },
  {
    name: 'JSON number, string or null',
    stage: 'validate',
    code: 'INVALID_EVENT',
    value: (n) => Buffer.from(['42', '"vip"', 'null'][n % 3]!),
  },
  {
    name: 'missing eventId',
    stage: 'validate',
    code: 'INVALID_EVENT',
    says: 'eventId',
    value: (n) => json({ ...event(n), eventId: undefined }),
  },
  {
    name: 'missing email',
    stage: 'validate',
    code: 'INVALID_EVENT',
    says: 'profile.email',
    value: (n) => json(event(n, {}, { email: undefined })),
  },
  {
    name: 'bad op',
    stage: 'validate',
    code: 'INVALID_EVENT',
    says: 'op',
    value: (n) => json(event(n, { op: 'upsert' })),
  },
  {
    name: 'unparseable occurredAt',
    stage: 'validate',
    code: 'INVALID_EVENT',
    says: 'occurredAt',
    value: (n) => json(event(n, { occurredAt: ['yesterday', '2026-13-45T99:00:00Z', 1764331200000][n % 3] })),
  },
  {
    name: 'email ActiveCampaign refuses',
    stage: 'validate',
    code: 'INVALID_EVENT',
    says: 'profile.email',
    value: (n) =>
      json(event(n, {}, { email: [`o'brien${n}@example.com`, `user${n}@example.c`, `us er${n}@example.com`][n % 3] })),
  },
  {
    name: 'wrong field type',
    stage: 'validate',
    code: 'INVALID_EVENT',
    says: 'profile',
    value: (n) => json(event(n, {}, n % 2 ? { email: 12345 } : { attributes: { nested: { a: 1 } } })),
  },
  {
    name: 'oversize value',
    stage: 'decode',
    code: 'TOO_LARGE',
    value: (n) => json(event(n, {}, { attributes: { notes: 'x'.repeat(MAX_EVENT_BYTES) } })),
  },
  {
    name: 'unmapped segment',
    stage: 'map',
    code: 'UNMAPPED_SEGMENT',
    says: 'nobody-maps-this',
    value: (n) => json(event(n, { segmentId: 'nobody-maps-this' })),
  },
  {
    name: 'segment of a disabled export',
    stage: 'map',
    code: 'UNMAPPED_SEGMENT',
    says: 'retired',
    value: (n) => json(event(n, { segmentId: 'retired' })),
  },
  {
    name: 'contact opted out of the list (ActiveCampaign fails it)',
    stage: 'confirm',
    code: 'CONSENT_OPTED_OUT',
    value: (n) => json(event(n, {}, { email: `optout${n}@example.com` })),
  },
];

test('bad records of every kind go to the dead-letter topic with stage and code; every good event reaches ActiveCampaign', async () => {
  const topic = await w.topic('poison', 3);

  const expected = new Map<string, Map<string, 'add' | 'remove'>>();
  const good = [
    ...sampleEvents(
      {
        events: 10_000,
        profiles: 3_334,
        segments,
        removeRatio: 0.25,
        reentry: false,
        seed: 3,
        start: Date.parse('2026-11-28T10:00:00Z'),
      },
      expected,
    ),
  ].map((e) => ({
    key: e.key,
    value: Buffer.from(JSON.stringify(e.value)) as Buffer | null,
    headers: {} as Record<string, string>,
  }));
  const bad = new Map<string, { kind: Kind; value: Buffer | null }>();
  let n = 0;
  for (const kind of kinds) {
    for (let i = 0; i < PER_KIND; i++, n++) {
      const key = `bad-${n}`;
      const value = kind.value(n);
      bad.set(key, { kind, value });
      if (kind.code === 'CONSENT_OPTED_OUT') w.sim.seedContact({ email: `optout${n}@example.com`, lists: { '1': 2 } });
    }
  }
  // Mix the bad records into the good stream at deterministic random positions.
  const rand = mulberry32(11);
  const messages = [...good];
  for (const [key, { kind, value }] of bad) {
    messages.splice(Math.floor(rand() * (messages.length + 1)), 0, {
      key,
      value,
      headers: { 'x-poison-kind': kind.name },
    });
  }
  await w.produce(topic, messages);

  const service = await w.service(topic, {
    exports: [
      ...segments.map((segmentId, i) => ({ name: segmentId, segmentId, connection: 'main', listId: String(i + 1) })),
      { name: 'retired', segmentId: 'retired', connection: 'main', listId: '4', enabled: false },
    ],
    unmappedSegments: 'dead-letter',
    ingest: { maxEventBytes: MAX_EVENT_BYTES },
  });
  const dlq = await w.reader(`${topic}.dlq`);
  await w.membership(expected, 'every good event to reach the simulator');
  await dlq.until(bad.size);
  await w.committed(service, 'committed offsets to reach the end');

  // Each bad record is dead-lettered exactly once, unchanged, with the right stage and code.
  const byKey = new Map(dlq.records.map((r) => [r.key?.toString() ?? '', r]));
  assert.equal(byKey.size, dlq.records.length, 'no record is dead-lettered twice');
  for (const [key, { kind, value }] of bad) {
    const letter = byKey.get(key);
    assert.ok(letter, `${kind.name} (${key}) is in the dead-letter topic`);
    assert.equal(reasonOf(letter), `${kind.stage}/${kind.code}`, `${kind.name}: stage/code`);
    assert.deepEqual(letter.value, value, `${kind.name}: value unchanged`);
    assert.equal(letter.headers['x-poison-kind'], kind.name, `${kind.name}: original header kept`);
    assert.equal(letter.headers[DLQ_HEADERS.topic], topic);
    assert.match(letter.headers[DLQ_HEADERS.offset] ?? '', /^\d+$/);
    if (kind.says)
      assert.ok(
        letter.headers[DLQ_HEADERS.message]?.includes(kind.says),
        `${kind.name}: message "${letter.headers[DLQ_HEADERS.message]}" names ${kind.says}`,
      );
    if (kind.stage === 'confirm') assert.equal(letter.headers[DLQ_HEADERS.export], 'vip');
  }
  assert.equal(dlq.records.length, bad.size, 'no good event is dead-lettered');

  const totals = service.totals();
  assert.equal(totals.consumed, good.length + bad.size, 'the consumer went through every record');
  // Issue 15: removes of contacts ActiveCampaign never had settle unsent (leave_ignored), creating no contact.
  assert.equal(totals.delivered + totals.skipped, good.length);
  assert.equal(totals.deadLettered, bad.size);
  const list1 = w.sim.snapshot().lists['1']!.members;
  for (const [key, { kind }] of bad) {
    if (kind.code === 'CONSENT_OPTED_OUT')
      assert.equal(list1[`optout${key.slice(4)}@example.com`]?.status, 2, 'an opted-out contact stays unsubscribed');
    else assert.equal(list1[`bad${key.slice(4)}@example.com`], undefined, `${kind.name}: nothing reached the list`);
  }
  assert.equal(w.sim.snapshot().counters.violations, 0);
});
