import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withOptOut } from '../../src/consent/gate.js';
import { consentKey } from '../../src/consent/key.js';
import { PersonHasher } from '../../src/ledger/erasure.js';
import { decodeConsent, encodeConsent, mergeConsent, withOptOut as addOptOut } from '../../src/consent/record.js';
import { parseUnsubscribe } from '../../src/consent/webhook.js';

describe("consent: routing with the person's own opt-outs", () => {
  const window = { from: 10_000, to: 20_000 };

  it('an add of a person who opted out leaves the import body: its membership is read after it', () => {
    assert.deepEqual(withOptOut({ kind: 'import' }, 'add', 5_000), { kind: 'resubscribe', optedOut: 5_000 });
  });

  it("counts only outside the window of the service's own unsubscribe", () => {
    assert.deepEqual(withOptOut({ kind: 'resubscribe', window }, 'add', 5_000), {
      kind: 'resubscribe',
      window,
      optedOut: 5_000,
    });
    assert.deepEqual(withOptOut({ kind: 'resubscribe', window }, 'add', 30_000), {
      kind: 'resubscribe',
      window,
      optedOut: 30_000,
    });
    assert.deepEqual(withOptOut({ kind: 'resubscribe', window }, 'add', 15_000), { kind: 'resubscribe', window });
    const earlier = { ...window, earlier: { from: 1_000, to: 2_000 } };
    assert.deepEqual(withOptOut({ kind: 'resubscribe', window: earlier }, 'add', 1_500), {
      kind: 'resubscribe',
      window: earlier,
    });
  });

  it('never makes an event stale, never touches a remove, a stale change or a refused re-entry', () => {
    assert.deepEqual(withOptOut({ kind: 'stale' }, 'add', 5_000), { kind: 'stale' });
    assert.deepEqual(withOptOut({ kind: 'reentry-off' }, 'add', 5_000), { kind: 'reentry-off' });
    assert.deepEqual(withOptOut({ kind: 'import' }, 'remove', 5_000), { kind: 'import' });
    assert.deepEqual(withOptOut({ kind: 'import' }, 'add', undefined), { kind: 'import' });
  });
});

describe('consent: records and keys', () => {
  it('keys by (connection, normalised email) through one function', () => {
    assert.equal(consentKey('main', ' Ann@Example.COM '), consentKey('main', 'ann@example.com'));
    assert.notEqual(consentKey('main', 'ann@example.com'), consentKey('other', 'ann@example.com'));
    const keyed = new PersonHasher('a secret hash key');
    assert.equal(consentKey('main', ' Ann@Example.COM ', keyed), consentKey('main', 'ann@example.com', keyed));
    assert.doesNotMatch(
      consentKey('main', 'ann@example.com', keyed),
      /ann|@/,
      'with ledger.hashKey the key holds no email',
    );
  });

  it('keeps each list at its newest opt-out, and reads back what it writes', () => {
    const r = addOptOut(addOptOut(undefined, '3', 200), '3', 100);
    assert.deepEqual(r, { v: 1, lists: { '3': 200 } });
    const merged = mergeConsent(r, { v: 1, lists: { '4': 50, '3': 300 } });
    assert.deepEqual(merged.lists, { '3': 300, '4': 50 });
    assert.deepEqual(decodeConsent(Buffer.from(encodeConsent(merged))), merged);
    assert.equal(decodeConsent(Buffer.from('{"v":2}')), undefined);
    assert.equal(decodeConsent(Buffer.from('nope')), undefined);
    assert.equal(decodeConsent(null), undefined);
  });

  it('parses the webhook: only unsubscribes of sources public and admin are opt-outs', () => {
    const body = (src: string) =>
      `type=unsubscribe&date_time=2026-12-01+10%3A00%3A00&initiated_by=${src}&list=3&contact%5Bemail%5D=ann%40example.com`;
    assert.deepEqual(parseUnsubscribe(body('public')), {
      kind: 'opt-out',
      email: 'ann@example.com',
      listId: '3',
      at: Date.parse('2026-12-01T10:00:00Z'),
    });
    assert.equal(parseUnsubscribe(body('admin')).kind, 'opt-out');
    assert.deepEqual(parseUnsubscribe(body('api')), { kind: 'ignored', reason: 'ignored_source' });
    assert.equal(parseUnsubscribe(`${body('public')}&list=4`).kind, 'malformed', 'two lists: which one?');
    assert.equal(
      parseUnsubscribe(
        'type=unsubscribe&date_time=2026-12-01T10:00:00-05:00&initiated_by=public&list=3&contact[email]=a@b.co',
      ).kind,
      'opt-out',
    );
  });
});

describe('consent: the record schema', () => {
  it('schemas/consent-record.schema.json describes what encodeConsent writes', async () => {
    const { readFileSync } = await import('node:fs');
    const schema = JSON.parse(
      readFileSync(new URL('../../../schemas/consent-record.schema.json', import.meta.url), 'utf8'),
    ) as { required: string[]; properties: Record<string, unknown> };
    const written = JSON.parse(encodeConsent(addOptOut(undefined, '3', 1))) as Record<string, unknown>;
    assert.deepEqual(Object.keys(written).sort(), [...schema.required].sort());
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(written).sort());
  });
});
