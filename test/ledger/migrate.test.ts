import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeMarker, markerKey, PersonHasher } from '../../src/ledger/erasure.js';
import { encodeHashCheck, HASH_CHECK_KEY, personPart } from '../../src/ledger/hashing.js';
import { PartitionMigration } from '../../src/ledger/migrate.js';
import { encodeLedgerValue, ledgerKey } from '../../src/ledger/record.js';

const hasher = new PersonHasher('k');
const value = (occurredAt: number) =>
  Buffer.from(encodeLedgerValue({ op: 'add', occurredAt, byService: false, sentAt: 0, confirmedAt: 0 }));
const hashedKey = (email: string) => ledgerKey('main', '1', personPart(hasher, email));

describe('PartitionMigration', () => {
  it('re-keys raw emails, keeps the newest record per key, copies markers and already hashed keys, drops tombstones and old checks', () => {
    const m = new PartitionMigration(hasher);
    const marker = markerKey('main', hasher.digest('zed@example.com'));
    m.add(ledgerKey('main', '1', 'ann@example.com'), value(1));
    m.add(ledgerKey('main', '1', 'ann@example.com'), value(2));
    m.add(ledgerKey('main', '1', 'bob@example.com'), value(1));
    m.add(ledgerKey('main', '1', 'bob@example.com'), null);
    m.add(marker, Buffer.from(encodeMarker({ occurredAt: 5, at: 6, done: true })));
    m.add(hashedKey('cy@example.com'), value(3));
    m.add(HASH_CHECK_KEY, Buffer.from(encodeHashCheck(hasher)));
    m.add('not a ledger key', value(1));
    const done = m.finish();
    assert.deepEqual([...done.records.keys()], [hashedKey('ann@example.com'), marker, hashedKey('cy@example.com')]);
    assert.deepEqual(done.records.get(hashedKey('ann@example.com')), value(2), 'the newest record of the key');
    assert.deepEqual(done.dropped, { tombstone: 1, superseded: 2, unreadable: 1, check: 1 });
    for (const k of done.records.keys()) assert.ok(!k.includes('@'), 'no email in a key');
  });
});
