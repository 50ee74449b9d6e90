import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/domain/errors.js';
import { tpKey } from '../../src/ingest/source.js';
import { parseFrom } from '../../src/replay/from.js';
import {
  endOffsets,
  joinLost,
  lostToRetention,
  progressOf,
  rangesOf,
  replayBudgetShare,
  replayConfig,
} from '../../src/replay/plan.js';

const marks = [
  { partition: 1, low: 10, high: 50 },
  { partition: 0, low: 0, high: 100 },
  { partition: 2, low: 7, high: 7 },
];

test('earliest covers each partition from its low to its high watermark; an empty partition is an empty range', () => {
  assert.deepEqual(rangesOf('t', marks, parseFrom('earliest')), [
    { topic: 't', partition: 0, start: 0, end: 100 },
    { topic: 't', partition: 1, start: 10, end: 50 },
    { topic: 't', partition: 2, start: 7, end: 7 },
  ]);
});

test("a time starts at the broker's offset for it; --to ends at its offset; a range never ends before it starts", () => {
  const from = new Map([
    [0, 40],
    [1, 50],
    [2, 7],
  ]);
  const to = new Map([
    [0, 60],
    [1, 20],
    [2, 7],
  ]);
  assert.deepEqual(rangesOf('t', marks, parseFrom('2026-11-28T10:00:00Z'), from, to), [
    { topic: 't', partition: 0, start: 40, end: 60 },
    { topic: 't', partition: 1, start: 50, end: 50 },
    { topic: 't', partition: 2, start: 7, end: 7 },
  ]);
});

test('given offsets are clamped into what the partition holds; partitions not named are not replayed; unknown ones are refused', () => {
  assert.deepEqual(rangesOf('t', marks, parseFrom('0:500,1:3')), [
    { topic: 't', partition: 0, start: 100, end: 100 },
    { topic: 't', partition: 1, start: 10, end: 50 },
    { topic: 't', partition: 2, start: 7, end: 7 },
  ]);
  assert.throws(() => rangesOf('t', marks, parseFrom('5:0')), /partition 5, but t has partitions 0–2/);
});

test('progress counts committed offsets inside the ranges; complete once every partition committed its end', () => {
  const ranges = rangesOf('t', marks, parseFrom('earliest'));
  assert.deepEqual(progressOf(ranges, new Map()), { done: 0, total: 140, complete: false });
  const committed = new Map([
    [tpKey('t', 0), 100],
    [tpKey('t', 1), 30],
  ]);
  assert.deepEqual(progressOf(ranges, committed), { done: 120, total: 140, complete: false });
  committed.set(tpKey('t', 1), 52); // past the end (a marker after it): still the end
  assert.deepEqual(progressOf(ranges, committed), { done: 140, total: 140, complete: true });
  const end = endOffsets(ranges);
  assert.equal(end('t', 1), 50);
  assert.equal(end('t', 9), 0, 'a partition outside the plan takes nothing');
});

const base = {
  kafka: { brokers: ['k:9092'], topics: ['a', 'b'], groupId: 'live' },
  connections: {
    main: { apiUrl: 'http://sim', apiKey: { value: 'secret-1' }, privacyAcknowledged: true, replayShare: 0.3 },
    other: {
      apiUrl: 'http://sim2',
      apiKey: { value: 'secret-2' },
      privacyAcknowledged: true,
      budgetShare: 0.5,
      replayShare: 0.2,
    },
  },
  exports: [
    { name: 'vip', segmentId: 'vip', connection: 'main', listId: '1' },
    { name: 'x', segmentId: 'x', connection: 'other', listId: '2' },
  ],
};

test('the replay runs at the reserved share of each account: replayShare of what the deployment owns; nothing reserved on top', () => {
  const config = parseConfig(base);
  const run = replayConfig(config, ['b']);
  assert.deepEqual(run.kafka.topics, ['b']);
  assert.equal(run.connections.main!.budgetShare, 0.3);
  assert.equal(run.connections.main!.replayShare, 0);
  assert.equal(
    run.connections.other!.budgetShare,
    0.1,
    'a deployment with a fixed half of the account reserves 0.2 of its half',
  );
  assert.equal(replayBudgetShare(config.connections.other!), 0.1);
  assert.equal(run.http.port, 0, 'beside a live instance on the same host');
  assert.equal(config.kafka.topics.length, 2, 'the loaded config is not changed');
});

test('a connection that reserves nothing for replays is refused, naming the key', () => {
  const config = parseConfig({
    ...base,
    connections: { ...base.connections, main: { ...base.connections.main, replayShare: 0 } },
  });
  assert.throws(
    () => replayConfig(config, ['a']),
    (err: unknown) => err instanceof ConfigError && err.key === 'connections.main.replayShare',
  );
  // Unused by any enabled export: no budget needed.
  const unused = parseConfig({
    ...base,
    connections: { ...base.connections, main: { ...base.connections.main, replayShare: 0 } },
    exports: [{ ...base.exports[0]!, enabled: false }, base.exports[1]!],
  });
  assert.equal(replayConfig(unused, ['a']).connections.other!.budgetShare, 0.1);
});

test('the part of a range retention deleted before the run saw it is lost; ranges of a partition join', () => {
  const ranges = [0, 1, 2, 3].map((partition) => ({ topic: 't', partition, start: 10, end: 50 }));
  const positions = new Map([
    [tpKey('t', 0), 50], // finished: nothing lost, whatever retention did since
    [tpKey('t', 1), 20], // the low watermark passed its end: 20–50 is gone, nothing left to wait for
    [tpKey('t', 2), 20], // the low watermark is inside the range: 20–30 is gone, the rest is still read
  ]);
  const lows = new Map([
    [tpKey('t', 0), 60],
    [tpKey('t', 1), 50],
    [tpKey('t', 2), 30],
    [tpKey('t', 3), 70], // nothing seen: lost from its start
  ]);
  assert.deepEqual(lostToRetention(ranges, positions, lows), [
    { topic: 't', partition: 1, start: 20, end: 50 },
    { topic: 't', partition: 2, start: 20, end: 30 },
    { topic: 't', partition: 3, start: 10, end: 50 },
  ]);
  assert.deepEqual(lostToRetention(ranges, positions, new Map()), [], 'no watermark read: nothing is called lost');
  const seenPast = new Map([[tpKey('t', 2), 35]]);
  assert.deepEqual(lostToRetention([ranges[2]!], seenPast, lows), [], 'what was seen before the deletion is not lost');
  const a = { topic: 't', partition: 2, start: 20, end: 30 };
  assert.deepEqual(
    joinLost(
      [a],
      [
        { ...a, start: 30, end: 40 },
        { ...a, partition: 1 },
        { ...a, start: 45, end: 48 },
      ],
    ),
    [
      { ...a, end: 40 },
      { ...a, partition: 1 },
      { ...a, start: 45, end: 48 },
    ],
  );
});
