import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distribution, percentile } from '../../bench/measure.js';
import {
  AC_CONTACTS_PER_SECOND,
  chooseTimeScale,
  MAX_API_TIME_SCALE,
  timeScaleFromCeiling,
} from '../../bench/phases/api.js';
import { workloadEvents, type WorkloadStats } from '../../bench/workload.js';

test('percentile is nearest-rank; an empty set has none', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 0.5), 50);
  assert.equal(percentile(values, 0.99), 99);
  assert.equal(percentile(values, 1), 100);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.deepEqual(distribution([3, 1, 2]), { count: 3, p50: 2, p90: 3, p99: 3, max: 3 });
});

test('the time scale keeps the scaled ActiveCampaign ceiling at or below a third of the pipeline ceiling, and under the cap', () => {
  for (const ceiling of [5_000, 12_345, 18_000, 60_000]) {
    const k = timeScaleFromCeiling(ceiling);
    assert.ok(AC_CONTACTS_PER_SECOND * k <= ceiling / 3, `k=${k} for ${ceiling}/s`);
    assert.ok(AC_CONTACTS_PER_SECOND * (k + 1) > ceiling / 3, `k=${k} is the largest for ${ceiling}/s`);
    assert.equal(chooseTimeScale(ceiling), Math.min(k, MAX_API_TIME_SCALE));
  }
  assert.equal(chooseTimeScale(3_000), 2, 'below the cap, the ceiling decides');
  assert.equal(chooseTimeScale(100), 1, 'never below 1 (then the limits may not bind; the README says so)');
  assert.equal(chooseTimeScale(1e9), MAX_API_TIME_SCALE);
});

test('sample slices: about 30% repeats and flaps, and parallel slices never share a contact', () => {
  const emails = [new Set<string>(), new Set<string>()];
  const stats: WorkloadStats[] = [];
  for (const slice of [0, 1]) {
    const s: WorkloadStats = { events: 0, repeats: 0, removes: 0 };
    for (const e of workloadEvents({ kind: 'sample', count: 20_000, slice, slices: 2 }, s))
      emails[slice]!.add(e.value.profile.email);
    stats.push(s);
  }
  for (const s of stats)
    assert.ok(s.repeats / s.events > 0.25 && s.repeats / s.events < 0.35, `repeat share ${s.repeats / s.events}`);
  assert.equal([...emails[0]!].filter((e) => emails[1]!.has(e)).length, 0);
});

test('distinct contacts: one add per contact, each email once, the five segments in turn', () => {
  const s: WorkloadStats = { events: 0, repeats: 0, removes: 0 };
  const events = [...workloadEvents({ kind: 'distinct', count: 10, slice: 1, slices: 2, from: 10 }, s)];
  assert.equal(new Set(events.map((e) => e.value.profile.email)).size, 10);
  assert.ok(events.every((e) => e.value.op === 'add'));
  assert.deepEqual(
    events.slice(0, 5).map((e) => e.value.segmentId),
    ['seg-1', 'seg-2', 'seg-3', 'seg-4', 'seg-5'],
  );
  assert.equal(events[0]!.value.profile.email, 'contact10@example.com');
});
