import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { ContactUpdate } from '../../src/buffer/contact-entry.js';
import { RateBudget } from '../../src/deliver/budget.js';
import type { AcApi, Answer } from '../../src/deliver/client.js';
import { systemClock } from '../../src/deliver/clock.js';
import { EmailChanges } from '../../src/deliver/email-changes.js';
import type { DeliveryOutcomes } from '../../src/deliver/outcomes.js';

const ok = <T>(body: T, status = 200): Answer<T> => ({ status, verdict: { kind: 'ok' }, body, latencyMs: 0 });
const refused = (status: number): Answer<unknown> => ({ status, verdict: { kind: 'reject', code: 'REJECTED', message: `HTTP ${status}` }, body: undefined, latencyMs: 0 });
const update = (email: string, ref: string): ContactUpdate<string> => ({ email, fields: new Map(), tags: [], excludeAutomations: false, listId: '1', op: 'add', occurredAt: 1, seq: 0, ref });

function world(put: (id: string, email: string) => Answer<unknown>, contacts: Record<string, string>) {
  const added: string[] = [];
  const dead: { refs: string[]; code: string; message: string }[] = [];
  const calls: string[] = [];
  let settled!: () => void;
  const idle = new Promise<void>((r) => (settled = r));
  const client = {
    findContact: async (email: string) => (calls.push(`GET ${email}`), ok({ contacts: contacts[email] ? [{ id: contacts[email]!, email }] : [] })),
    updateContactEmail: async (id: string, email: string) => (calls.push(`PUT ${id}`), put(id, email)),
  } as unknown as AcApi;
  const outcomes = { dead: (refs: string[], _stage: string, code: string, message: string) => void dead.push({ refs, code, message }) } as unknown as DeliveryOutcomes<string>;
  const changes = new EmailChanges<string>({
    budget: new RateBudget({ requestsPerSecond: 100, importsPerMinute: 100, singleImportsPerMinute: 20, importScope: 'separate' }),
    clock: systemClock,
    client,
    outcomes,
    add: (u) => (added.push(`${u.ref}:${u.email}`), 'new'),
    holds: () => false,
    log: pino({ level: 'silent' }),
    maxProfiles: 2,
    onIdle: () => settled(),
  });
  return { changes, added, dead, calls, idle };
}

describe('email changes: one contact per profile', () => {
  it('holds the profile\'s changes until the PUT answers, then lets them go with the new email', async () => {
    const w = world(() => ok({}), { 'old@example.com': '7' });
    w.changes.add('p1', update('old@example.com', 'e1'));
    w.changes.add('p1', update('new@example.com', 'e2'));
    w.changes.add('p1', update('new@example.com', 'e3'));
    assert.deepEqual(w.added, ['e1:old@example.com'], 'nothing of the new email before the PUT');
    assert.equal(w.changes.holding, 2);
    await w.idle;
    assert.deepEqual(w.calls, ['GET old@example.com', 'PUT 7']);
    assert.deepEqual(w.added, ['e1:old@example.com', 'e2:new@example.com', 'e3:new@example.com']);
    assert.equal(w.changes.results.changed, 1);
  });

  it('a taken email dead-letters the held changes EMAIL_TAKEN, with both contact ids and no emails', async () => {
    const w = world(() => refused(422), { 'old@example.com': '7', 'new@example.com': '9' });
    w.changes.add('p1', update('old@example.com', 'e1'));
    w.changes.add('p1', update('new@example.com', 'e2'));
    await w.idle;
    assert.equal(w.dead.length, 1);
    assert.equal(w.dead[0]!.code, 'EMAIL_TAKEN');
    assert.deepEqual(w.dead[0]!.refs, ['e2']);
    assert.match(w.dead[0]!.message, /contact 9\b.*contact 7\b/);
    assert.doesNotMatch(w.dead[0]!.message, /@/);
    assert.deepEqual(w.added, ['e1:old@example.com']);
  });

  it('an old email ActiveCampaign does not have, or an unknown id (404), lets the changes go as they are', async () => {
    const missing = world(() => ok({}), {});
    missing.changes.add('p1', update('old@example.com', 'e1'));
    missing.changes.add('p1', update('new@example.com', 'e2'));
    await missing.idle;
    assert.deepEqual(missing.calls, ['GET old@example.com'], 'no PUT without a contact');
    assert.deepEqual(missing.added, ['e1:old@example.com', 'e2:new@example.com']);
    const gone = world(() => refused(404), { 'old@example.com': '7' });
    gone.changes.add('p1', update('old@example.com', 'e1'));
    gone.changes.add('p1', update('new@example.com', 'e2'));
    await gone.idle;
    assert.deepEqual(gone.added, ['e1:old@example.com', 'e2:new@example.com']);
    assert.equal(gone.changes.results.missing, 1);
  });

  it('holds at most maxProfiles profiles, forgetting the least recently seen', () => {
    const w = world(() => ok({}), {});
    w.changes.add('p1', update('a@example.com', 'e1'));
    w.changes.add('p2', update('b@example.com', 'e2'));
    w.changes.add('p1', update('a@example.com', 'e3'));
    w.changes.add('p3', update('c@example.com', 'e4'));
    assert.equal(w.changes.profiles, 2);
    // p2 was forgotten: its new email is not taken for a change.
    w.changes.add('p2', update('b2@example.com', 'e5'));
    assert.equal(w.changes.holding, 0);
    assert.deepEqual(w.calls, []);
  });
});
