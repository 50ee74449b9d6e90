import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashKey, LedgerIndex, LedgerState } from '../../src/ledger/hash-index.js';
import { ledgerKey } from '../../src/ledger/record.js';

const key = (i: number) => ledgerKey('main', String(1 + (i % 5)), `user${i}@example.com`);

describe('LedgerIndex', () => {
  it('gives back what was set, and nothing for keys never set', () => {
    const index = new LedgerIndex();
    for (let i = 0; i < 10_000; i++)
      index.set(key(i), {
        state: (i % 4) as LedgerState,
        occurredAt: 1_700_000_000_000 + i,
        sentAt: 1_700_000_100_000 + i * 1000,
      });
    assert.equal(index.size, 10_000);
    for (let i = 0; i < 10_000; i++) {
      assert.deepEqual(index.get(key(i)), {
        state: i % 4,
        occurredAt: 1_700_000_000_000 + i,
        sentAt: 1_700_000_100_000 + i * 1000,
      });
    }
    for (let i = 10_000; i < 11_000; i++) assert.equal(index.get(key(i)), undefined);
  });

  it('overwrites an entry in place (size unchanged) and keeps sentAt to whole seconds', () => {
    const index = new LedgerIndex();
    index.set('k', { state: LedgerState.Added, occurredAt: 5, sentAt: 12_345 });
    index.set('k', { state: LedgerState.RemovedByService, occurredAt: 9, sentAt: 99_999 });
    assert.equal(index.size, 1);
    assert.deepEqual(index.get('k'), { state: LedgerState.RemovedByService, occurredAt: 9, sentAt: 99_000 });
  });

  it('keeps the refused-add and unapplied flags beside an offset, or without one', () => {
    const index = new LedgerIndex();
    const cases = [
      {
        state: LedgerState.RemovedByService,
        occurredAt: 1,
        sentAt: 0,
        confirmedAt: 2_000,
        offset: 41,
        unapplied: true,
      },
      { state: LedgerState.RemovedByService, occurredAt: 1, sentAt: 0, confirmedAt: 2_000, unapplied: true },
      { state: LedgerState.RemovedByService, occurredAt: 1, sentAt: 0, offset: 0, refusedAdd: true },
      { state: LedgerState.Added, occurredAt: 1, sentAt: 0, offset: 2 ** 40 },
    ];
    cases.forEach((c, i) => {
      index.set(`k${i}`, c);
    });
    cases.forEach((c, i) => {
      assert.deepEqual(index.get(`k${i}`), c);
    });
  });

  it('keys differing only in connection, list or email are different entries', () => {
    const index = new LedgerIndex();
    index.set(ledgerKey('a', '1', 'x@example.com'), { state: LedgerState.Added, occurredAt: 1, sentAt: 0 });
    assert.equal(index.get(ledgerKey('b', '1', 'x@example.com')), undefined);
    assert.equal(index.get(ledgerKey('a', '2', 'x@example.com')), undefined);
    assert.equal(index.get(ledgerKey('a', '1', 'y@example.com')), undefined);
  });

  it('hashes to a high word that is never 0 (0 marks an empty slot)', () => {
    for (let i = 0; i < 100_000; i++) assert.notEqual(hashKey(`k${i}`).hi, 0);
  });

  it('stays at or under 60 bytes per entry (40-byte slots, at least 67% full) at every size from 10,000 to 1,000,000 entries', () => {
    const index = new LedgerIndex();
    let worst = 0;
    for (let i = 0; i < 1_000_000; i++) {
      index.set(key(i), { state: LedgerState.Added, occurredAt: i, sentAt: 0 });
      if (i >= 10_000 && i % 997 === 0) worst = Math.max(worst, index.bytes / index.size);
    }
    assert.ok(worst <= 60, `worst bytes per entry: ${worst.toFixed(1)}`);
    assert.ok(index.bytes / index.size >= 20, 'a slot is 20 bytes, so never under 20 per entry');
  });
});

describe('LedgerIndex.reserve and fit', () => {
  const entry = (i: number) => ({
    state: LedgerState.Added,
    occurredAt: 1_780_000_000_000 + i,
    sentAt: 1_780_000_000_000,
    offset: i,
  });
  it('a reservation holds its entries without growing, and fit() keeps a full table as it is', () => {
    const index = new LedgerIndex();
    index.reserve(10_000);
    const bytes = index.bytes;
    for (let i = 0; i < 10_000; i++) index.set(`k${i}`, entry(i));
    assert.equal(index.bytes, bytes, 'no growth');
    index.fit();
    assert.equal(index.bytes, bytes);
    for (let i = 0; i < 10_000; i += 997) assert.deepEqual(index.get(`k${i}`), entry(i));
  });
  it('fit() gives back an unused reservation and keeps every entry', () => {
    const index = new LedgerIndex();
    index.reserve(100_000);
    for (let i = 0; i < 1_000; i++) index.set(`k${i}`, entry(i));
    const reserved = index.bytes;
    index.fit();
    assert.ok(index.bytes < reserved / 10, `${index.bytes} < ${reserved / 10}`);
    assert.equal(index.size, 1_000);
    for (let i = 0; i < 1_000; i++) assert.deepEqual(index.get(`k${i}`), entry(i));
    assert.equal(index.get('k1000'), undefined);
  });
});

describe('LedgerIndex.setUnlessNewer with the key as stored bytes', () => {
  it('finds the entry by its string key, for an ASCII key and for one that is not', () => {
    const index = new LedgerIndex();
    const e = { state: LedgerState.Added, occurredAt: 5, sentAt: 0 };
    for (const key of [ledgerKey('main', '3', 'ann@example.com'), ledgerKey('main', '3', 'zoë@exämple.com')]) {
      assert.ok(index.setUnlessNewer(Buffer.from(key, 'utf8'), e));
      assert.deepEqual(index.get(key), e, key);
      assert.equal(
        index.setUnlessNewer(Buffer.from(key, 'utf8'), { ...e, occurredAt: 4 }),
        false,
        'an older one is not set',
      );
    }
    assert.equal(index.size, 2);
  });
});
