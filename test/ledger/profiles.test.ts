import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { isMarkerKey, PersonHasher } from '../../src/ledger/erasure.js';
import { HASH_CHECK_KEY } from '../../src/ledger/hashing.js';
import { Ledger, LedgerUnavailable, type LedgerIo } from '../../src/ledger/ledger.js';
import {
  decodeProfile,
  emailHash,
  encodeProfile,
  isProfileKey,
  profileKey,
  ProfileTable,
} from '../../src/ledger/profiles.js';
import { decodeLedgerValue, splitLedgerKey } from '../../src/ledger/record.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { memoryLogger } from '../support/observability.js';

const hasher = new PersonHasher('secret');
const ann = 'ann@example.com';
const pk = profileKey(hasher, 'main', 'p-ann');
const value = (occurredAt: number, email: string, contactId?: string) =>
  Buffer.from(encodeProfile({ occurredAt, email: emailHash(hasher, email), ...(contactId ? { contactId } : {}) }));

describe('profile records', () => {
  it('hold no email and no profile id, and no other reader takes them for its own', () => {
    const v = encodeProfile({
      occurredAt: 5,
      email: emailHash(hasher, ann),
      contactId: '7',
      changingTo: emailHash(hasher, 'ann.new@example.com'),
    });
    assert.doesNotMatch(pk + v, /ann|p-ann|@/);
    assert.equal(isProfileKey(pk), true);
    assert.equal(splitLedgerKey(pk), undefined, 'not a list key');
    assert.equal(isMarkerKey(pk), false, 'not an erasure marker');
    assert.equal(decodeLedgerValue(v), undefined, 'not a ledger record');
    assert.equal(isProfileKey('main\u00001\u0000ann@example.com'), false);
    assert.deepEqual(decodeProfile(v), {
      occurredAt: 5,
      email: emailHash(hasher, ann),
      contactId: '7',
      changingTo: emailHash(hasher, 'ann.new@example.com'),
    });
    assert.notEqual(profileKey(hasher, 'other', 'p-ann'), pk, 'per connection');
    assert.notEqual(emailHash(hasher, ann), emailHash(hasher, 'ann.new@example.com'));
  });

  it('agree with schemas/profile-record.schema.json', () => {
    const schema = JSON.parse(
      readFileSync(new URL('../../../schemas/profile-record.schema.json', import.meta.url), 'utf8'),
    ) as object;
    const validate = new Ajv2020({ strict: true }).compile(schema);
    for (const r of [
      { occurredAt: 1, email: emailHash(hasher, ann) },
      { occurredAt: 1, email: emailHash(hasher, ann), contactId: '7', changingTo: emailHash(hasher, 'b@example.com') },
    ]) {
      assert.equal(validate(JSON.parse(encodeProfile(r))), true, JSON.stringify(validate.errors));
    }
    assert.equal(validate({ v: 1, profile: true, occurredAt: 1, email: ann }), false, 'an email is not a hash');
  });

  it('the newest wins by occurredAt (an equal time replaces); a tombstone read forgets the key', () => {
    const t = new ProfileTable();
    t.restored(pk, value(2, ann, '7'));
    t.restored(pk, value(1, 'old@example.com', '6'));
    assert.equal(t.get(pk)?.contactId, '7', 'an older record is ignored');
    assert.equal(t.set(pk, { occurredAt: 2, email: 'x', contactId: '8' }), true, 'an equal time replaces');
    t.restored(pk, null);
    assert.equal(t.get(pk), undefined);
    t.restored(pk, Buffer.from('{"v":1}'));
    assert.equal(t.size, 0, 'an unreadable value is skipped');
  });
});

describe('profile records in the ledger', () => {
  async function world(stored: [string, Buffer | null][], startedAt = Number.MAX_SAFE_INTEGER, rebuild: string[] = []) {
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
        startedAt,
        openWindowMs: 60_000,
        hasher,
        listsOf: () => ['1'],
      },
      createMetrics(),
      memoryLogger('info').log,
    );
    ledger.assign({ t: [0] });
    await ledger.whenReady('t', 0);
    return { ledger, writes };
  }

  it('are restored with their partition, newest wins, and a rebuilt connection starts without them', async () => {
    const { ledger } = await world([
      [pk, value(1, ann, '6')],
      [pk, value(2, ann, '7')],
    ]);
    assert.deepEqual(ledger.profile('t', 0, 'main', 'p-ann'), {
      occurredAt: 2,
      email: ledger.profileEmail(ann),
      contactId: '7',
    });
    assert.equal(ledger.profile('t', 0, 'other', 'p-ann'), undefined);
    const rebuilt = await world([[pk, value(2, ann, '7')]], 1, ['main']);
    assert.equal(rebuilt.ledger.profile('t', 0, 'main', 'p-ann'), undefined);
  });

  it('are written only for an owned partition, never over a newer one, and dropped with a revoked partition', async () => {
    const { ledger, writes } = await world([]);
    await ledger.putProfile('t', 0, 'main', 'p-ann', {
      occurredAt: 5,
      email: ledger.profileEmail(ann),
      contactId: '7',
    });
    await ledger.putProfile('t', 0, 'main', 'p-ann', { occurredAt: 4, email: 'older', contactId: '6' });
    assert.deepEqual(
      writes.map((w) => w.key),
      [pk],
      'the older record is not written',
    );
    // A write-ahead before a PUT is always written: dated as the newer record, it replaces it.
    await ledger.putProfile('t', 0, 'main', 'p-ann', {
      occurredAt: 4,
      email: 'older',
      contactId: '6',
      changingTo: 'new',
    });
    assert.equal(writes.length, 2, 'the older write-ahead is written all the same');
    assert.deepEqual(ledger.profile('t', 0, 'main', 'p-ann'), {
      occurredAt: 5,
      email: 'older',
      contactId: '6',
      changingTo: 'new',
    });
    // The record after the PUT closes the write-ahead, dated as it too.
    await ledger.putProfile('t', 0, 'main', 'p-ann', { occurredAt: 4, email: 'new', contactId: '6' });
    assert.equal(writes.length, 3, 'the record closing the write-ahead is written');
    assert.deepEqual(ledger.profile('t', 0, 'main', 'p-ann'), { occurredAt: 5, email: 'new', contactId: '6' });
    await ledger.putProfile('t', 0, 'main', 'p-ann', { occurredAt: 4, email: 'older still', contactId: '6' });
    assert.equal(writes.length, 3, 'with nothing open, an older record is not written');
    await assert.rejects(ledger.putProfile('t', 1, 'main', 'p-ann', { occurredAt: 6, email: 'x' }), LedgerUnavailable);
    ledger.assign({ t: [1] });
    await assert.rejects(ledger.putProfile('t', 0, 'main', 'p-ann', { occurredAt: 6, email: 'x' }), LedgerUnavailable);
  });

  it('an erasure tombstones the profile record, by profile id and by email, with its marker', async () => {
    const bobKey = profileKey(hasher, 'main', 'p-bob');
    const { ledger, writes } = await world([
      [pk, value(1, ann, '7')],
      [bobKey, value(1, ann, '9')],
      [profileKey(hasher, 'main', 'p-cy'), value(1, 'cy@example.com', '3')],
    ]);
    await ledger.intendErasure('t', 0, 'main', ann, 2_000, 10, 'p-ann');
    const tombstones = writes
      .filter((w) => w.value === null)
      .map((w) => w.key)
      .sort();
    assert.deepEqual(tombstones, [pk, bobKey].sort());
    assert.equal(ledger.profile('t', 0, 'main', 'p-ann'), undefined);
    assert.equal(ledger.profile('t', 0, 'main', 'p-bob'), undefined, 'another profile with the email');
    assert.equal(ledger.profile('t', 0, 'main', 'p-cy')?.contactId, '3', 'others stay');
  });
});
