import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyncError } from '../../src/domain/errors.js';
import { parseFrom, parseTimestamp, replayGroup } from '../../src/replay/from.js';

test('--from earliest, an ISO time (UTC without a zone) or partition:offset pairs', () => {
  assert.deepEqual(parseFrom('earliest'), { kind: 'earliest' });
  assert.deepEqual(parseFrom('2026-11-28T10:00:00Z'), { kind: 'timestamp', at: Date.parse('2026-11-28T10:00:00Z') });
  assert.deepEqual(parseFrom('2026-11-28T10:00'), { kind: 'timestamp', at: Date.parse('2026-11-28T10:00:00Z') });
  assert.deepEqual(parseFrom('2026-11-28T12:00:00.250+02:00'), {
    kind: 'timestamp',
    at: Date.parse('2026-11-28T10:00:00.250Z'),
  });
  const from = parseFrom('0:1200,2:980');
  assert.equal(from.kind, 'offsets');
  assert.deepEqual(from.kind === 'offsets' ? [...from.offsets] : [], [
    [0, 1200],
    [2, 980],
  ]);
});

test('anything else is a one-line usage error naming the option', () => {
  for (const bad of ['latest', '2026-11-28', 'yesterday', '0:12,', '0:1,0:2', '2026-13-45T99:00:00Z', '']) {
    assert.throws(
      () => parseFrom(bad),
      (err: unknown) => err instanceof SyncError && err.code === 'USAGE' && /--from/.test(err.message),
      bad,
    );
  }
  assert.throws(() => parseTimestamp('soon', '--to'), /--to must be/);
});

test('the replay group: given, or derived from the live group and the time; never the live group', () => {
  assert.equal(replayGroup('sync', undefined, Date.parse('2026-11-28T10:15:30.123Z')), 'sync-replay-20261128T101530Z');
  assert.equal(replayGroup('sync', 'backfill-vip', 0), 'backfill-vip');
  assert.throws(() => replayGroup('sync', 'sync', 0), /live sync's consumer group/);
  assert.throws(() => replayGroup('sync', ' ', 0), /must not be empty/);
});
