import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, parseBenchOptions, SMOKE } from '../../bench/options.js';

test('no flags: the default sizes of issue #7', () => {
  const o = parseBenchOptions([], {}, '/r');
  assert.deepEqual(o, { ...DEFAULTS, smoke: false, out: '/r' });
  assert.equal(o.jsonEvents, 1_000_000);
  assert.equal(o.apiContacts, 200_000);
});

test('--smoke starts from the small sizes; flags and BENCH_ variables override, flags first', () => {
  assert.equal(parseBenchOptions(['--smoke'], {}, '/r').jsonEvents, SMOKE.jsonEvents);
  assert.equal(parseBenchOptions([], { BENCH_SMOKE: '1' }, '/r').smoke, true);
  const o = parseBenchOptions(
    ['--smoke', '--json-events', '50_000'],
    { BENCH_JSON_EVENTS: '7', BENCH_AVRO_EVENTS: '900', BENCH_OUT: '/x' },
    '/r',
  );
  assert.equal(o.jsonEvents, 50_000);
  assert.equal(o.avroEvents, 900);
  assert.equal(o.out, '/x');
  assert.equal(parseBenchOptions(['--api-1m'], {}, '/r').apiContacts, 1_000_000);
  assert.equal(parseBenchOptions(['--multi-contacts', '90_000'], {}, '/r').multiContacts, 90_000);
  assert.equal(parseBenchOptions([], { BENCH_MULTI_TIME_SCALE: '2' }, '/r').multiTimeScale, 2);
});

test('bad sizes are refused with the flag or variable named', () => {
  assert.throws(
    () => parseBenchOptions(['--partitions', '0'], {}, '/r'),
    /--partitions must be a whole number of at least 1, got "0"/,
  );
  assert.throws(
    () => parseBenchOptions([], { BENCH_TRICKLE_RATE: '2.5' }, '/r'),
    /BENCH_TRICKLE_RATE must be a whole number/,
  );
  assert.throws(() => parseBenchOptions(['--trickle-rate', '5000'], {}, '/r'), /at most 1000/);
  assert.throws(
    () => parseBenchOptions(['--multi-time-scale', '2000'], {}, '/r'),
    /--multi-time-scale must be at most 1000/,
  );
  assert.throws(() => parseBenchOptions(['--events', '5'], {}, '/r'), /Unknown option '--events'/);
});
