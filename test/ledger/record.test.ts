import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { LedgerState } from '../../src/ledger/hash-index.js';
import { decodeLedgerValue, encodeLedgerValue, entryOf, ledgerKey, splitLedgerKey, type LedgerRecord } from '../../src/ledger/record.js';

const schema = JSON.parse(readFileSync(new URL('../../../schemas/ledger-record.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv2020({ strict: true }).compile(schema);

const records: LedgerRecord[] = [
  { op: 'add', occurredAt: 1_780_000_000_000, byService: false, sentAt: 1_780_000_001_000, confirmedAt: 1_780_000_002_000 },
  { op: 'remove', occurredAt: 1_780_000_000_001, byService: true, sentAt: 1_780_000_001_000, confirmedAt: 1_780_000_002_000 },
  { op: 'add', occurredAt: 1_780_000_000_002, byService: false, refused: 'CONSENT_OPTED_OUT', sentAt: 1, confirmedAt: 2 },
];

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
                  op, occurredAt: 1_780_000_000_000 + variants.length, byService, sentAt: variants.length % 2 ? 0 : 1_780_000_001_000, confirmedAt: intent ? 0 : 1_780_000_002_000,
                  ...(refused ? { refused } : {}), ...(intent ? { intent } : {}), ...(offset !== undefined ? { offset } : {}),
                  ...(prior ? { priorSentAt: prior[0], priorConfirmedAt: prior[1] } : {}),
                });
    for (const r of variants) {
      const value = encodeLedgerValue(r);
      assert.deepEqual(decodeLedgerValue(Buffer.from(value)), decodeLedgerValue(value), value); // a string goes the general way
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
    ];
    for (const value of general) assert.deepEqual(decodeLedgerValue(Buffer.from(value)), decodeLedgerValue(value), value);
    assert.equal(decodeLedgerValue(Buffer.from('{"v":2,"op":"add","occurredAt":1,"byService":false,"sentAt":2,"confirmedAt":3}x')), undefined);
  });
  it('decode nothing from a tombstone, garbage, another version or a wrong op', () => {
    for (const raw of [null, '', 'not json', '[]', '{"v":3,"op":"add","occurredAt":1,"byService":false}', '{"v":1,"op":"subscribe","occurredAt":1,"byService":false}']) {
      assert.equal(decodeLedgerValue(raw), undefined, String(raw));
    }
  });
  it('map to the index state: applied, refused, unsubscribed by the service or not', () => {
    assert.deepEqual(records.map((r) => entryOf(r).state), [LedgerState.Added, LedgerState.RemovedByService, LedgerState.AddRefused]);
    assert.equal(entryOf({ ...records[1]!, byService: false }).state, LedgerState.RemovedOther);
  });
  it('keys name connection, list and email, and split back', () => {
    assert.deepEqual(splitLedgerKey(ledgerKey('main', '3', 'a@example.com')), { connection: 'main', listId: '3', email: 'a@example.com' });
    assert.equal(splitLedgerKey('no separators'), undefined);
  });
});
