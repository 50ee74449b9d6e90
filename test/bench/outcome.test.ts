import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workloadSlices } from '../../bench/harness.js';
import { checkMembership, deadLetterDifferences } from '../../bench/outcome.js';
import { expectedMembership, MULTI_SEGMENTS, workloadEvents, type WorkloadStats } from '../../bench/workload.js';
import type { MemberView } from '../../packages/ac-simulator/src/index.js';

const member = (status: 0 | 1 | 2 | 3): MemberView => ({
  status,
  contactId: '1',
  sdate: '',
  udate: '',
  changedBy: 'service-bulk',
});

test('the multi workload: each contact joins lists 1..3 at once, its events next to each other, slices disjoint', () => {
  const slices = workloadSlices('multi', 5, 2);
  assert.deepEqual(
    slices.map((s) => [s.count, s.from]),
    [
      [3, 0],
      [2, 3],
    ],
  );
  const stats: WorkloadStats = { events: 0, repeats: 0, removes: 0 };
  const events = slices.flatMap((s) => [...workloadEvents(s, stats)]);
  assert.equal(events.length, 5 * MULTI_SEGMENTS.length);
  assert.equal(stats.events, 15);
  assert.deepEqual(
    events.slice(0, 4).map((e) => [e.key, e.value.segmentId, e.value.op]),
    [
      ['m-0', 'seg-1', 'add'],
      ['m-0', 'seg-2', 'add'],
      ['m-0', 'seg-3', 'add'],
      ['m-1', 'seg-1', 'add'],
    ],
  );
  assert.equal(new Set(events.map((e) => e.value.eventId)).size, 15);
  const expected = expectedMembership(slices);
  assert.deepEqual([...expected.keys()], ['seg-1', 'seg-2', 'seg-3']);
  assert.deepEqual(
    [...expected.get('seg-2')!.keys()],
    ['multi0@example.com', 'multi1@example.com', 'multi2@example.com', 'multi3@example.com', 'multi4@example.com'],
  );
});

test('the membership check counts every difference from the newest event, both ways', () => {
  const slices = workloadSlices('multi', 2, 1);
  const all = { 'multi0@example.com': member(1), 'multi1@example.com': member(1) };
  const right = {
    '1': { name: 'l1', members: all },
    '2': { name: 'l2', members: all },
    '3': { name: 'l3', members: all },
  };
  assert.deepEqual(checkMembership(right, slices), { checked: 6, differences: 0, examples: [] });

  const wrong = {
    ...right,
    '2': { name: 'l2', members: { 'multi0@example.com': member(2) } },
    '3': { name: 'l3', members: { ...all, 'stranger@example.com': member(1) } },
  };
  const check = checkMembership(wrong, slices);
  assert.equal(check.checked, 6);
  assert.equal(check.differences, 3);
  assert.deepEqual(check.examples, [
    'list 2: multi0@example.com should be subscribed, is 2',
    'list 2: multi1@example.com should be subscribed, is absent',
    'list 3: stranger@example.com is subscribed but never added',
  ]);
});

test('dead letters are compared by stage and code', () => {
  assert.deepEqual(deadLetterDifferences({}, {}), []);
  assert.deepEqual(deadLetterDifferences({ 'deliver/EMAIL_INVALID': 2 }, { 'deliver/EMAIL_INVALID': 2 }), []);
  assert.deepEqual(deadLetterDifferences({ 'ingest/INVALID_EVENT': 1 }, { 'deliver/EMAIL_INVALID': 2 }), [
    'deliver/EMAIL_INVALID: 0 dead letters, 2 expected',
    'ingest/INVALID_EVENT: 1 dead letters, 0 expected',
  ]);
});
