import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { DrillOracle, pairOf, type MembersView } from './drill-oracle.js';
import { FlappingStream, poisonRecords, seededPairs, streamShape, UNMAPPED_SEGMENT } from './drill-stream.js';
import type { ReadRecord } from './harness.js';

/** The drills are only as honest as their oracle: its fates and each kind of mismatch, without a broker. */
const TOPIC = 'src';
const listOf = new Map([
  ['vip', '1'],
  ['news', '2'],
]);

function record(offset: number, value: unknown): ReadRecord {
  return {
    partition: 0,
    offset,
    key: null,
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
  };
}
const ev = (segmentId: string, email: string, op: 'add' | 'remove', second: number) => ({
  eventId: `${email}-${second}`,
  occurredAt: new Date(Date.UTC(2026, 10, 28, 10, 0, second)).toISOString(),
  segmentId,
  op,
  profile: { id: email, email },
});

function letter(offset: number, code: string, stage = 'confirm'): ReadRecord {
  return {
    partition: 1,
    offset: 0,
    key: null,
    value: null,
    headers: {
      [DLQ_HEADERS.topic]: TOPIC,
      [DLQ_HEADERS.partition]: '0',
      [DLQ_HEADERS.offset]: String(offset),
      [DLQ_HEADERS.code]: code,
      [DLQ_HEADERS.stage]: stage,
    },
  };
}

const source = [
  record(0, ev('vip', 'a@x.io', 'remove', 1)), // a on 1: starts with a remove…
  record(1, ev('vip', 'a@x.io', 'add', 2)), // …and re-enters: in
  record(2, ev('news', 'a@x.io', 'add', 3)), // a on 2: out at the end
  record(3, ev('news', 'a@x.io', 'remove', 4)),
  record(4, ev('vip', 'o@x.io', 'add', 5)), // o opted out of 1 before the run: refused
  record(5, ev('news', 'o@x.io', 'add', 6)), // o on 2 never opted out: in
  record(6, ev(UNMAPPED_SEGMENT, 'a@x.io', 'add', 7)),
  record(7, '{"eventId":'),
];
const optedOut = new Map([[pairOf('1', 'o@x.io'), -Infinity]]);
const goodState = (): MembersView => ({
  lists: {
    '1': { members: { 'a@x.io': { status: 1 }, 'o@x.io': { status: 2 } } },
    '2': { members: { 'a@x.io': { status: 2 }, 'o@x.io': { status: 1 } } },
  },
  counters: { forcedResubscribes: 0 },
});
const goodLetters = () => [letter(4, 'CONSENT_OPTED_OUT'), letter(7, 'NOT_JSON', 'decode')];

test('each source offset gets its fate from the events', () => {
  const o = new DrillOracle(TOPIC, source, listOf, optedOut);
  assert.deepEqual(
    source.map((r) => o.fates.get(`0/${r.offset}`)?.kind),
    ['superseded', 'apply', 'superseded', 'apply', 'refuse', 'apply', 'skip', 'dead'],
  );
  assert.deepEqual(Object.fromEntries(o.expected), {
    [pairOf('1', 'a@x.io')]: 'in',
    [pairOf('2', 'a@x.io')]: 'out',
    [pairOf('1', 'o@x.io')]: 'opted-out',
    [pairOf('2', 'o@x.io')]: 'in',
  });
});

test('the right end state has no mismatch', () => {
  const report = new DrillOracle(TOPIC, source, listOf, optedOut).check(goodState(), goodLetters());
  assert.deepEqual(report.mismatches, []);
  assert.equal(report.counts.letters, 2);
});

test('a consent refusal of a pair whose person never unsubscribed is a mismatch, counted per contact', () => {
  const state = goodState();
  state.lists['1']!.members['a@x.io'] = { status: 2 };
  const report = new DrillOracle(TOPIC, source, listOf, optedOut).check(state, [
    ...goodLetters(),
    letter(1, 'CONSENT_OPTED_OUT'),
    letter(5, 'CONSENT_OPTED_OUT'),
  ]);
  assert.equal(report.counts.wrongConsentLetters, 2);
  assert.equal(
    report.counts.contactsRefusedWrongly,
    2,
    'o on list 2 is refused wrongly too: a refusal affects its own list only',
  );
  assert.match(report.mismatches.join('\n'), /list 1: a@x.io should be subscribed \(newest event: add\), is 2/);
  assert.match(
    report.mismatches.join('\n'),
    /list 2: o@x.io dead-lettered CONSENT_OPTED_OUT at 0\/5 \(apply add\), but never unsubscribed themselves/,
  );
});

test('an opted-out person subscribed again, a missing letter, an unexpected letter and an extra member are mismatches', () => {
  const state = goodState();
  state.lists['1']!.members['o@x.io'] = { status: 1 };
  state.lists['2']!.members['z@x.io'] = { status: 1 };
  state.counters.forcedResubscribes = 1;
  const report = new DrillOracle(TOPIC, source, listOf, optedOut).check(state, [
    letter(7, 'NOT_JSON', 'decode'),
    letter(6, 'NOT_JSON', 'decode'),
    letter(99, 'NOT_JSON', 'decode'),
  ]);
  const text = report.mismatches.join('\n');
  assert.match(text, /1 re-subscribes of people who had unsubscribed themselves/);
  assert.match(text, /list 1: o@x.io unsubscribed themselves and should stay unsubscribed \(2\), is 1/);
  assert.match(text, /list 2: z@x.io is subscribed but no event added them/);
  assert.match(
    text,
    /0\/4: the add of a person who unsubscribed themselves should be dead-lettered CONSENT_OPTED_OUT, is not/,
  );
  assert.match(text, /0\/6 \(segment not-exported, no export\) should be skipped/);
  assert.match(text, /a letter for 0\/99, which is not a source offset/);
  assert.equal(report.counts.missingLetters, 1);
  assert.equal(report.counts.unexpectedLetters, 2);
});

test('a refusal before the person unsubscribed themselves is wrong; after it, it is theirs', () => {
  // a re-subscribed and unsubscribed themselves from list 1 after second 1: the add at second 2 may be refused.
  const late = new Map([[pairOf('1', 'a@x.io'), Date.UTC(2026, 10, 28, 10, 0, 1)]]);
  const state = goodState();
  state.lists['1']!.members['a@x.io'] = { status: 2 };
  const ok = new DrillOracle(TOPIC, source, listOf, new Map([...optedOut, ...late])).check(state, [
    ...goodLetters(),
    letter(1, 'CONSENT_OPTED_OUT'),
  ]);
  assert.deepEqual(ok.mismatches, []);
  const tooEarly = new Map([[pairOf('1', 'a@x.io'), Date.UTC(2026, 10, 28, 10, 0, 3)]]);
  const wrong = new DrillOracle(TOPIC, source, listOf, new Map([...optedOut, ...tooEarly])).check(state, [
    ...goodLetters(),
    letter(1, 'CONSENT_OPTED_OUT'),
  ]);
  assert.match(wrong.mismatches.join('\n'), /at 0\/1 \(apply add\), but had not unsubscribed themselves yet/);
});

test('two events of one pair at the same time stop the oracle: the drills need an unambiguous newest', () => {
  assert.throws(
    () =>
      new DrillOracle(
        TOPIC,
        [record(0, ev('vip', 'a@x.io', 'add', 1)), record(1, ev('vip', 'a@x.io', 'remove', 1))],
        listOf,
        new Map(),
      ),
    /two events at/,
  );
});

test("the same event twice (a producer's retry) is no ambiguity: the later copy is the newest", () => {
  const twice = [record(0, ev('vip', 'o@x.io', 'add', 1)), record(1, ev('vip', 'o@x.io', 'add', 1))];
  const oracle = new DrillOracle(TOPIC, twice, listOf, new Map([[pairOf('1', 'o@x.io'), -Infinity]]));
  assert.equal(oracle.fates.get('0/0')?.kind, 'superseded');
  assert.equal(oracle.fates.get('0/1')?.kind, 'refuse');
  const state: MembersView = {
    lists: { '1': { members: { 'o@x.io': { status: 2 } } } },
    counters: { forcedResubscribes: 0 },
  };
  assert.deepEqual(oracle.check(state, [letter(1, 'CONSENT_OPTED_OUT')]).mismatches, []);
  assert.match(oracle.check(state, []).mismatches.join('\n'), /at 0\/1: the add of a person who unsubscribed/);
  const changed = { ...ev('vip', 'o@x.io', 'add', 1), eventId: 'another' };
  assert.throws(
    () => new DrillOracle(TOPIC, [twice[0]!, record(1, changed)], listOf, new Map()),
    /two events at/,
    'another event at the same time is still ambiguous',
  );
});

test('a flapping stream: per-profile times strictly increase, many pairs start with a remove, pairs re-enter', () => {
  const stream = new FlappingStream({
    seed: 7,
    prefix: 'u-',
    contacts: 200,
    segments: ['vip', 'news'],
    unmapped: 0.1,
    firstRemove: 0.5,
    leave: 0.5,
    reenter: 0.5,
  });
  const events = [...stream.next(3_000), ...stream.reentries([{ segmentId: 'vip', email: 'u-c3@example.com' }])];
  const last = new Map<string, number>();
  for (const e of events) {
    assert.ok(e.occurredAt > (last.get(e.key) ?? -Infinity), `${e.eventId} is newer than its profile's previous event`);
    last.set(e.key, e.occurredAt);
    assert.equal((JSON.parse(e.value) as { occurredAt: string }).occurredAt, new Date(e.occurredAt).toISOString());
  }
  const shape = streamShape(events);
  assert.ok(
    shape.firstRemove > shape.pairs * 0.35 && shape.firstRemove < shape.pairs * 0.65,
    `about half the pairs start with a remove (${shape.firstRemove} of ${shape.pairs})`,
  );
  assert.ok(shape.reentries > 200, `pairs re-enter (${shape.reentries})`);
  assert.ok(events.some((e) => e.segmentId === UNMAPPED_SEGMENT));
  assert.equal(stream.lastOps().get('vip')?.get('u-c3@example.com'), 'add');
  assert.equal(poisonRecords('u-', 2).length, 2);
  assert.equal(new Set(seededPairs(1, 'u-', 10, ['1', '2'], 20).map((p) => `${p.listId}${p.email}`)).size, 20);
});

test('an opted-out pair: a remove coalesced into a later refused add may share its letter; one with no later add may not', () => {
  const src = [
    record(0, ev('vip', 'o@x.io', 'remove', 1)),
    record(1, ev('vip', 'o@x.io', 'add', 2)), // newest: refused
    record(2, ev('news', 'o@x.io', 'remove', 3)),
    record(3, ev('news', 'o@x.io', 'remove', 4)), // newest: a remove, nothing to refuse
  ];
  const opted = new Map([
    [pairOf('1', 'o@x.io'), -Infinity],
    [pairOf('2', 'o@x.io'), -Infinity],
  ]);
  const state: MembersView = {
    lists: { '1': { members: { 'o@x.io': { status: 2 } } }, '2': { members: { 'o@x.io': { status: 2 } } } },
    counters: { forcedResubscribes: 0 },
  };
  const oracle = new DrillOracle(TOPIC, src, listOf, opted);
  assert.deepEqual(
    oracle.check(state, [letter(0, 'CONSENT_OPTED_OUT'), letter(1, 'CONSENT_OPTED_OUT')]).mismatches,
    [],
  );
  const wrong = oracle.check(state, [letter(1, 'CONSENT_OPTED_OUT'), letter(2, 'CONSENT_OPTED_OUT')]);
  assert.match(
    wrong.mismatches.join('\n'),
    /list 2: o@x.io at 0\/2 \(superseded remove\) is dead-lettered as confirm\/CONSENT_OPTED_OUT/,
  );
});
