import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PersonHasher } from '../../src/ledger/erasure.js';
import {
  decodeHashCheck,
  encodeHashCheck,
  formatProblem,
  HASH_CHECK_KEY,
  personPart,
} from '../../src/ledger/hashing.js';
import { LedgerState } from '../../src/ledger/hash-index.js';
import { Ledger, type LedgerIo } from '../../src/ledger/ledger.js';
import { decodeLedgerValue, encodeLedgerValue, ledgerKey, splitLedgerKey } from '../../src/ledger/record.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { memoryLogger } from '../support/observability.js';

const keyed = new PersonHasher('k1');
const plain = new PersonHasher();
const check = (h: PersonHasher) => decodeHashCheck(encodeHashCheck(h));

describe('hashed ledger keys', () => {
  it('the person part is the keyed hash with ledger.hashKey, the email without; the key still splits', () => {
    const p = personPart(keyed, 'ann@example.com');
    assert.match(p, /^h:[A-Za-z0-9_-]{43}$/);
    assert.equal(personPart(plain, 'ann@example.com'), 'ann@example.com');
    assert.equal(splitLedgerKey(ledgerKey('main', '1', p))?.email, p);
    assert.equal(splitLedgerKey(HASH_CHECK_KEY), undefined, 'the check record is no ledger key');
    assert.equal(decodeLedgerValue(encodeHashCheck(keyed)), undefined);
  });

  it('formatProblem: the whole table', () => {
    const f = (o: { check?: string; rawKeys?: number; hashedKeys?: number }) => ({ rawKeys: 0, hashedKeys: 0, ...o });
    assert.equal(formatProblem(f({}), keyed), undefined, 'empty, keyed: fine (the check is written then)');
    assert.equal(formatProblem(f({ check: check(keyed), hashedKeys: 3 }), keyed), undefined);
    assert.match(
      formatProblem(f({ check: check(new PersonHasher('k2')), hashedKeys: 3 }), keyed)!,
      /another ledger.hashKey/,
    );
    assert.match(formatProblem(f({ rawKeys: 2 }), keyed)!, /2 key\(s\) with raw emails: migrate/);
    assert.equal(formatProblem(f({ rawKeys: 2 }), plain), undefined, 'raw keys without a key: as before');
    assert.match(formatProblem(f({ check: check(keyed) }), plain)!, /set ledger.hashKey again/);
    assert.match(formatProblem(f({ hashedKeys: 1 }), plain)!, /set ledger.hashKey again/);
  });

  it('a restore under another key refuses the partition (it stays not ready) instead of reading it as empty', async () => {
    const k = ledgerKey('main', '1', personPart(keyed, 'ann@example.com'));
    const stored: [string, string][] = [
      [HASH_CHECK_KEY, encodeHashCheck(keyed)],
      [k, encodeLedgerValue({ op: 'add', occurredAt: 1, byService: false, sentAt: 0, confirmedAt: 0 })],
    ];
    const open = (hasher: PersonHasher) => {
      const writes: string[] = [];
      const io: LedgerIo = {
        restore: async (_t, _p, onRecord) =>
          stored.forEach(([key, v], o) => {
            onRecord(0, key, Buffer.from(v), 0, o);
          }),
        write: async (_t, _p, key) => void writes.push(key),
      };
      const { log, lines } = memoryLogger('info');
      const ledger = new Ledger(
        io,
        { restoreTimeoutMs: 60_000, rebuild: new Set(), startedAt: 0, openWindowMs: 60_000, hasher },
        createMetrics(),
        log,
      );
      ledger.assign({ t: [0] });
      return { ledger, lines, writes };
    };
    const same = open(new PersonHasher('k1'));
    await same.ledger.whenReady('t', 0);
    assert.equal(
      same.ledger.lookup('t', 0, 'main', '1', 'ann@example.com')?.state,
      LedgerState.Added,
      'found by the hash of the email asked about',
    );
    assert.deepEqual(same.writes, [], 'a check record there already: none written');

    const other = open(new PersonHasher('k2'));
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(other.ledger.whenReady('t', 0) !== undefined, 'not ready');
    assert.ok(other.lines.some((l) => /another ledger.hashKey/.test(l)));
    assert.ok(other.lines.every((l) => !l.includes('ann@')));
  });

  it('a fresh partition under a key gets its check record', async () => {
    const writes: [string, string | null][] = [];
    const io: LedgerIo = {
      restore: async () => undefined,
      write: async (_t, _p, key, value) => void writes.push([key, value]),
    };
    const ledger = new Ledger(
      io,
      { restoreTimeoutMs: 60_000, rebuild: new Set(), startedAt: 0, openWindowMs: 60_000, hasher: keyed },
      createMetrics(),
      memoryLogger('info').log,
    );
    ledger.assign({ t: [0] });
    await ledger.whenReady('t', 0);
    assert.deepEqual(writes, [[HASH_CHECK_KEY, encodeHashCheck(keyed)]]);
  });
});
