import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyUpdate, newEntry, type ContactEntry } from '../../src/buffer/contact-entry.js';
import { bulkActions } from '../../src/deliver/answer.js';

function entry(email: string): ContactEntry<string> {
  const e = newEntry<string>(email, 0);
  applyUpdate(e, {
    email,
    fields: new Map(),
    tags: [],
    excludeAutomations: false,
    listId: '1',
    op: 'add',
    occurredAt: 1,
    seq: 1,
    ref: email,
  });
  return e;
}
const batch = (n: number) => Array.from({ length: n }, (_, i) => entry(`c${i}@example.com`));

describe('bulkActions: a bulk answer becomes actions', () => {
  it('accepted: await the batch; accepted without a batchId: dead-letter as sent', () => {
    const es = batch(3);
    assert.equal(bulkActions({ kind: 'ok' }, es, 'b1').accepted, 'b1');
    const none = bulkActions({ kind: 'ok' }, es, undefined);
    assert.deepEqual(
      none.dead.map((d) => [d.code, d.sent, d.entries.length]),
      [['NO_BATCH_ID', true, 3]],
    );
  });

  it('throttled and failing accounts requeue everything and dead-letter nothing', () => {
    const es = batch(2);
    const t = bulkActions({ kind: 'throttled', retryAfterMs: 1_000, code: 'RATE_LIMITED' }, es, undefined);
    assert.deepEqual([t.requeue.length, t.dead.length, t.throttle?.code, t.answered], [2, 0, 'RATE_LIMITED', false]);
    const p = bulkActions({ kind: 'account', code: 'SERVER_ERROR', message: 'HTTP 503' }, es, undefined);
    assert.deepEqual([p.requeue.length, p.dead.length, p.pause?.code], [2, 0, 'SERVER_ERROR']);
  });

  it('a 400 naming no usable index is bisected; only a contact alone is dead-lettered, with the raw body', () => {
    const v = { kind: 'invalid-unnamed' as const, body: '{"failureReasons":[{"failureReason":"x"}]}' };
    const halves = bulkActions(v, batch(5), undefined);
    assert.deepEqual(
      halves.bisect.map((h) => h.length),
      [3, 2],
    );
    assert.equal(halves.dead.length, 0, 'nothing is dead-lettered before the batch is bisected');
    const alone = bulkActions(v, batch(1), undefined);
    assert.deepEqual(
      alone.dead.map((d) => d.code),
      ['INVALID_CONTACT'],
    );
    assert.ok(alone.dead[0]!.message.includes('"failureReason":"x"'));
  });

  it('a plain reject dead-letters the batch, unsent', () => {
    const r = bulkActions({ kind: 'reject', code: 'NOT_FOUND', message: 'HTTP 404' }, batch(2), undefined);
    assert.deepEqual(
      r.dead.map((d) => [d.code, d.sent]),
      [['NOT_FOUND', false]],
    );
  });
});
