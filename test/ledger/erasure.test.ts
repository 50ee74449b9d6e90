import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  decodeMarker,
  encodeMarker,
  isMarkerKey,
  markerFor,
  markerKey,
  newerMarker,
  PersonHasher,
  routeErasure,
  shadows,
  suppresses,
  type ErasureMarker,
} from '../../src/ledger/erasure.js';
import { HASH_CHECK_KEY, personPart } from '../../src/ledger/hashing.js';
import { LedgerState } from '../../src/ledger/hash-index.js';
import { Ledger, type LedgerIo } from '../../src/ledger/ledger.js';
import { decodeLedgerValue, encodeLedgerValue, ledgerKey, splitLedgerKey } from '../../src/ledger/record.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { memoryLogger } from '../support/observability.js';

const intent: ErasureMarker = { occurredAt: 2_000, at: 10, done: false };
const done: ErasureMarker = { occurredAt: 2_000, at: 20, done: true };

describe('erasure decisions (the whole table)', () => {
  it('suppresses: an event at or before the erasure is skipped; a later one goes through; no marker, nothing suppressed', () => {
    assert.equal(suppresses(undefined, 1_000), false);
    assert.equal(suppresses(intent, 1_999), true, 'older: suppressed while the intent stands too');
    assert.equal(suppresses(done, 2_000), true, 'a tie goes to the erasure');
    assert.equal(suppresses(done, 2_001), false, 'newer: a new consent');
  });

  it('shadows: a ledger entry of a change at or before the erasure is ignored; a newer one counts', () => {
    const entry = (occurredAt: number) => ({ state: LedgerState.Added, occurredAt, sentAt: 0 });
    assert.equal(shadows(done, entry(1_000)), true);
    assert.equal(shadows(done, entry(2_000)), true);
    assert.equal(shadows(done, entry(3_000)), false);
    assert.equal(shadows(undefined, entry(1_000)), false);
    assert.equal(shadows(done, undefined), false);
  });

  it('routeErasure: done as new or newer → stale (a replay); an intent, an older marker, or none → erase (again)', () => {
    assert.equal(routeErasure(undefined, 2_000), 'erase');
    assert.equal(
      routeErasure(intent, 2_000),
      'erase',
      'a crash between the delete and its record: the replay deletes again',
    );
    assert.equal(routeErasure(done, 2_000), 'stale');
    assert.equal(routeErasure(done, 1_500), 'stale');
    assert.equal(routeErasure(done, 2_500), 'erase', 'a later erasure (the person came back and asks again)');
  });

  it('markerFor: never over a newer erasure, nor an intent over its own done marker', () => {
    assert.deepEqual(markerFor(undefined, 2_000, 10, false), intent);
    assert.deepEqual(markerFor(intent, 2_000, 20, true), done);
    assert.equal(markerFor(done, 2_000, 30, false), undefined);
    assert.equal(markerFor(done, 1_000, 30, true), undefined);
    assert.deepEqual(markerFor(done, 3_000, 30, false), { occurredAt: 3_000, at: 30, done: false });
  });

  it('newerMarker: the later erasure stands; at the same time the done one', () => {
    assert.equal(newerMarker(intent, done), done);
    assert.equal(newerMarker(done, intent), done);
    assert.equal(newerMarker(undefined, intent), intent);
    const later = { ...intent, occurredAt: 5_000 };
    assert.equal(newerMarker(done, later), later);
  });
});

const schema = JSON.parse(
  readFileSync(new URL('../../../schemas/erasure-marker.schema.json', import.meta.url), 'utf8'),
) as object;
const validate = new Ajv2020({ strict: true }).compile(schema);

describe('the erasure marker record', () => {
  it('agrees with schemas/erasure-marker.schema.json', () => {
    for (const m of [intent, done])
      assert.equal(validate(JSON.parse(encodeMarker(m))), true, JSON.stringify(validate.errors));
    assert.equal(validate({ v: 1, erased: true, occurredAt: 1, at: 1 }), false);
  });

  it('holds no email: a keyed hash in its key, times in its value; other keys change the hash', () => {
    const a = new PersonHasher('k1').digest('ann@example.com');
    assert.equal(a, new PersonHasher('k1').digest('ann@example.com'), 'stable for one key');
    assert.notEqual(a, new PersonHasher('k2').digest('ann@example.com'));
    assert.notEqual(a, new PersonHasher('k1').digest('bob@example.com'));
    const k = markerKey('main', a);
    const v = encodeMarker(done);
    assert.ok(!k.includes('ann') && !v.includes('ann') && !v.includes('example'));
    assert.deepEqual(decodeMarker(Buffer.from(v)), done);
  });

  it('older tools skip it: its key does not split as a ledger key, its value does not decode as a record', () => {
    const k = markerKey('main', new PersonHasher().digest('ann@example.com'));
    assert.equal(isMarkerKey(k), true);
    assert.equal(isMarkerKey(ledgerKey('main', '1', 'ann@example.com')), false);
    assert.equal(splitLedgerKey(k), undefined);
    assert.equal(decodeLedgerValue(encodeMarker(done)), undefined);
    assert.equal(
      decodeMarker(encodeLedgerValue({ op: 'add', occurredAt: 1, byService: false, sentAt: 0, confirmedAt: 0 })),
      undefined,
    );
    assert.equal(decodeMarker(null), undefined);
  });
});

describe('Ledger with erasure markers', () => {
  const ann = 'ann@example.com';
  const hasher = new PersonHasher('secret');
  /** Ann's key on a list: hashed, since a key is configured. */
  const annKey = (listId: string) => ledgerKey('main', listId, personPart(hasher, ann));
  const record = (occurredAt: number) =>
    Buffer.from(encodeLedgerValue({ op: 'add', occurredAt, byService: false, sentAt: 0, confirmedAt: 0 }));

  /** One ledger partition holding `stored` (key, value) records, restored before the test goes on. */
  async function world(stored: [string, Buffer | null][], rebuild: string[] = []) {
    const writes: { key: string; value: string | null }[] = [];
    const io: LedgerIo = {
      restore: async (_t, _p, onRecord) =>
        stored.forEach(([k, v], offset) => {
          onRecord(0, k, v, 0, offset);
        }),
      write: async (_t, _p, key, value) => void (key !== HASH_CHECK_KEY && writes.push({ key, value })),
    };
    const ledger = new Ledger(
      io,
      {
        restoreTimeoutMs: 60_000,
        rebuild: new Set(rebuild),
        startedAt: Number.MAX_SAFE_INTEGER,
        openWindowMs: 60_000,
        hasher,
        listsOf: () => ['1', '2'],
      },
      createMetrics(),
      memoryLogger('info').log,
    );
    ledger.assign({ t: [0] });
    await ledger.whenReady('t', 0);
    return { ledger, writes, mk: markerKey('main', hasher.digest(ann)) };
  }

  it('a restore ignores records older than a marker (even one a rebuild would ignore), and keeps newer ones', async () => {
    const mk = markerKey('main', hasher.digest(ann));
    const stored: [string, Buffer | null][] = [
      [annKey('1'), record(1_000)],
      [mk, Buffer.from(encodeMarker(done))],
      [annKey('2'), record(3_000)],
    ];
    const { ledger } = await world(stored);
    assert.equal(ledger.lookup('t', 0, 'main', '1', ann), undefined, 'the record of before the erasure is ignored');
    assert.equal(ledger.lookup('t', 0, 'main', '2', ann)?.occurredAt, 3_000, 'a change after it counts');
    assert.equal(ledger.suppressed('main', ann, 1_500), true);
    assert.equal(ledger.suppressed('main', ann, 2_500), false);
    assert.equal(ledger.suppressed('other', ann, 1_500), false, 'a marker is per connection');
    assert.equal(ledger.routeErasure('main', ann, 2_000), 'stale');
    // A rebuild of "main" ignores every record of before this run, never a marker.
    const rebuilt = await world(stored, ['main']);
    assert.equal(rebuilt.ledger.lookup('t', 0, 'main', '2', ann), undefined);
    assert.equal(rebuilt.ledger.suppressed('main', ann, 1_500), true);
  });

  it('an entry older than the marker is ignored by every decision; a newer event is not stale', async () => {
    const { ledger } = await world([]);
    await ledger.apply('t', 0, 'main', '1', ann, {
      op: 'add',
      occurredAt: 1_000,
      sentAt: 1,
      confirmedAt: 1,
      offset: 0,
    });
    assert.equal(ledger.lookup('t', 0, 'main', '1', ann)?.state, LedgerState.Added);
    await ledger.intendErasure('t', 0, 'main', ann, 2_000, 10);
    assert.equal(
      ledger.lookup('t', 0, 'main', '1', ann),
      undefined,
      'the service no longer takes AC to have the contact',
    );
    assert.equal(ledger.isStale('t', 0, 'main', '1', ann, 2_500, 5, 'add'), false);
    assert.equal(
      ledger.route('t', 0, 'main', '1', ann, 'add', 1_500, 4, true).kind,
      'stale',
      'an older change still buffered is left out',
    );
    assert.equal(ledger.route('t', 0, 'main', '1', ann, 'add', 2_500, 5, true).kind, 'import');
    assert.equal(ledger.routeErasure('main', ann, 2_000), 'erase', 'only an intent so far');
  });

  it('a done erasure writes a tombstone for every list of the connection, then the marker; none of it holds the email', async () => {
    const { ledger, writes, mk } = await world([]);
    await ledger.intendErasure('t', 0, 'main', ann, 2_000, 10);
    await ledger.erased('t', 0, 'main', ann, 2_000, 20);
    assert.deepEqual(
      writes.map((w) => [w.key, w.value === null ? null : decodeMarker(w.value)]),
      [
        [mk, intent],
        [annKey('1'), null],
        [annKey('2'), null],
        [mk, done],
      ],
    );
    assert.ok(
      writes.every((w) => !w.key.includes('ann') && !(w.value ?? '').includes('ann')),
      'no email in a key or value written',
    );
    assert.equal(ledger.routeErasure('main', ann, 2_000), 'stale');
  });
});
