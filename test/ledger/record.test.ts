import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { LedgerState } from '../../src/ledger/hash-index.js';
import { isMarkerKey, markerKey } from '../../src/ledger/erasure.js';
import { countKey, countKeyBytes, HASH_CHECK_KEY } from '../../src/ledger/hashing.js';
import {
  decodeLedgerEntry,
  decodeLedgerValue,
  encodeLedgerValue,
  entryOf,
  ledgerKey,
  plainKeyPerson,
  splitLedgerKey,
  type LedgerRecord,
} from '../../src/ledger/record.js';

const schema = JSON.parse(
  readFileSync(new URL('../../../schemas/ledger-record.schema.json', import.meta.url), 'utf8'),
) as object;
const validate = new Ajv2020({ strict: true }).compile(schema);

const records: LedgerRecord[] = [
  {
    op: 'add',
    occurredAt: 1_780_000_000_000,
    byService: false,
    sentAt: 1_780_000_001_000,
    confirmedAt: 1_780_000_002_000,
  },
  {
    op: 'remove',
    occurredAt: 1_780_000_000_001,
    byService: true,
    sentAt: 1_780_000_001_000,
    confirmedAt: 1_780_000_002_000,
  },
  {
    op: 'add',
    occurredAt: 1_780_000_000_002,
    byService: false,
    refused: 'CONSENT_OPTED_OUT',
    sentAt: 1,
    confirmedAt: 2,
  },
];

/** The encoder as it was written first: an object, then JSON.stringify. */
function viaStringify(r: LedgerRecord): string {
  const value: Record<string, unknown> = {
    v: 2,
    op: r.op,
    occurredAt: r.occurredAt,
    byService: r.byService,
    sentAt: r.sentAt,
    confirmedAt: r.confirmedAt,
  };
  if (r.refused) value.refused = r.refused;
  if (r.intent) value.intent = true;
  if (r.unapplied) value.unapplied = true;
  if (r.offset !== undefined) value.offset = r.offset;
  if (r.priorSentAt !== undefined && r.priorConfirmedAt !== undefined) {
    value.priorSentAt = r.priorSentAt;
    value.priorConfirmedAt = r.priorConfirmedAt;
  }
  return JSON.stringify(value);
}

/** The fields an entry has (the reused entry of decodeLedgerEntry holds the absent ones as undefined). */
const present = (e: object | undefined) =>
  e && Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined));

describe('ledger records', () => {
  it('encode to values the published schema accepts, and decode back to the same record', () => {
    for (const r of records) {
      const value = encodeLedgerValue(r);
      assert.ok(validate(JSON.parse(value)), JSON.stringify(validate.errors));
      assert.deepEqual(decodeLedgerValue(Buffer.from(value)), r);
    }
  });
  it('the scanned form (as encodeLedgerValue writes it) decodes exactly as the general JSON path does', () => {
    const variants: LedgerRecord[] = [];
    for (const op of ['add', 'remove'] as const)
      for (const byService of [false, true])
        for (const refused of [undefined, 'CONSENT_OPTED_OUT'])
          for (const intent of [false, true])
            for (const offset of [undefined, 0, 123_456_789])
              for (const prior of [undefined, [1_780_000_000_000, 1_780_000_005_000], [5, 0]] as const)
                variants.push({
                  op,
                  occurredAt: 1_780_000_000_000 + variants.length,
                  byService,
                  sentAt: variants.length % 2 ? 0 : 1_780_000_001_000,
                  confirmedAt: intent ? 0 : 1_780_000_002_000,
                  ...(refused ? { refused } : {}),
                  ...(intent ? { intent } : {}),
                  ...(offset !== undefined ? { offset } : {}),
                  ...(prior ? { priorSentAt: prior[0], priorConfirmedAt: prior[1] } : {}),
                });
    for (const r of variants) {
      const value = encodeLedgerValue(r);
      assert.deepEqual(decodeLedgerValue(Buffer.from(value)), decodeLedgerValue(value), value); // a string goes the general way
      // The restore's decode (one reused record and entry, fields of the value before never left over) makes the
      // same entry.
      assert.deepEqual(present(decodeLedgerEntry(Buffer.from(value))), entryOf(decodeLedgerValue(value)!), value);
    }
    // The string the encoder builds is the one JSON.stringify makes of the same fields in the same order.
    for (const r of [
      ...variants,
      ...variants.map((x) => ({ ...x, unapplied: true })),
      { ...records[2]!, refused: 'A"B\\C\u00e9' },
      { ...records[0]!, sentAt: Number.NaN },
    ]) {
      assert.equal(encodeLedgerValue(r), viaStringify(r));
    }
    // Forms the scan does not take still decode the general way: spaces, another key order, escapes, version 1,
    // a negative or fractional number, an unknown key.
    const general = [
      '{"v":2, "op":"add","occurredAt":1,"byService":false,"sentAt":2,"confirmedAt":3}',
      '{"op":"add","v":2,"occurredAt":1,"byService":false,"sentAt":2,"confirmedAt":3}',
      '{"v":2,"op":"add","occurredAt":1,"byService":false,"sentAt":2,"confirmedAt":3,"refused":"A\\"B"}',
      '{"v":1,"op":"remove","occurredAt":1,"byService":true,"sentAt":2,"confirmedAt":3}',
      '{"v":2,"op":"add","occurredAt":-1,"byService":false,"sentAt":2.5,"confirmedAt":3}',
      '{"v":2,"op":"add","occurredAt":1,"byService":false,"sentAt":2,"confirmedAt":3,"extra":1}',
      '{"v":2,"op":"remove","occurredAt":1,"byService":true,"sentAt":2,"confirmedAt":0,"intent":true,"offset":07}',
      // 15 digits are scanned; 16 or more (past 2^53: the scan would round) go the general way.
      '{"v":2,"op":"add","occurredAt":999999999999999,"byService":false,"sentAt":2,"confirmedAt":3}',
      '{"v":2,"op":"add","occurredAt":9007199254740993,"byService":false,"sentAt":2,"confirmedAt":3}',
      '{"v":2,"op":"add","occurredAt":1,"byService":false,"sentAt":2,"confirmedAt":3,"offset":90071992547409931}',
    ];
    for (const value of general) {
      assert.deepEqual(decodeLedgerValue(Buffer.from(value)), decodeLedgerValue(value), value);
      const r = decodeLedgerValue(value);
      assert.deepEqual(present(decodeLedgerEntry(Buffer.from(value))), r && entryOf(r), value);
    }
    assert.equal(decodeLedgerEntry(null), undefined);
    assert.equal(decodeLedgerEntry(Buffer.from('not json')), undefined);
    assert.equal(
      decodeLedgerValue(Buffer.from('{"v":2,"op":"add","occurredAt":1,"byService":false,"sentAt":2,"confirmedAt":3}x')),
      undefined,
    );
  });
  it('decode nothing from a tombstone, garbage, another version or a wrong op', () => {
    for (const raw of [
      null,
      '',
      'not json',
      '[]',
      '{"v":3,"op":"add","occurredAt":1,"byService":false}',
      '{"v":1,"op":"subscribe","occurredAt":1,"byService":false}',
    ]) {
      assert.equal(decodeLedgerValue(raw), undefined, String(raw));
    }
  });
  it('map to the index state: applied, refused, unsubscribed by the service or not', () => {
    assert.deepEqual(
      records.map((r) => entryOf(r).state),
      [LedgerState.Added, LedgerState.RemovedByService, LedgerState.AddRefused],
    );
    assert.equal(entryOf({ ...records[1]!, byService: false }).state, LedgerState.RemovedOther);
  });
  it('keys name connection, list and email, and split back', () => {
    assert.deepEqual(splitLedgerKey(ledgerKey('main', '3', 'a@example.com')), {
      connection: 'main',
      listId: '3',
      email: 'a@example.com',
    });
    assert.equal(splitLedgerKey('no separators'), undefined);
  });
  it("a restore tells a list's key from its bytes only when the string path would take it for one (the person part where it starts)", () => {
    const plain = [
      ledgerKey('main', '3', 'a@example.com'),
      ledgerKey('main', '3', 'h:Zx9_abc'),
      ledgerKey('m', '1', ''),
      ledgerKey('main', '12', 'x'),
    ];
    const other = [
      markerKey('main', 'digest'),
      HASH_CHECK_KEY,
      ledgerKey('', '3', 'a@example.com'),
      'no separators',
      'a\u0000b',
      'a\u0000b\u0000c\u0000d',
      'a\u0000\u0000c',
      ledgerKey('main', '3', 'zoë@example.com'),
      '',
    ];
    for (const key of [...plain, ...other]) {
      const at = plainKeyPerson(Buffer.from(key, 'utf8'));
      if (at < 0) {
        assert.ok(other.includes(key), JSON.stringify(key));
        continue;
      }
      assert.ok(plain.includes(key), JSON.stringify(key));
      assert.equal(isMarkerKey(key), false);
      assert.equal(Buffer.from(key, 'utf8').subarray(at).toString('utf8'), splitLedgerKey(key)?.email);
      const byBytes = { rawKeys: 0, hashedKeys: 0 };
      const byText = { rawKeys: 0, hashedKeys: 0 };
      countKeyBytes(byBytes, Buffer.from(key, 'utf8'), at);
      countKey(byText, splitLedgerKey(key)!.email);
      assert.deepEqual(byBytes, byText);
    }
  });
});
