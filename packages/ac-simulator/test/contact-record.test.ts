import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { applyImport } from '../src/apply-import.js';
import { startSimulator, type Simulator } from '../src/index.js';
import { Store } from '../src/store.js';
import { api, finished } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

async function sim(): Promise<Simulator> {
  const s = await startSimulator({
    limits: { enabled: false },
    importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 0 },
  });
  started.push(s);
  return s;
}

/** One tagged contact on lists 1 (active) and 2 (unsubscribed by the person), plus another contact. */
async function world(s: Simulator): Promise<{ id: string; other: string }> {
  const info = await finished(
    s,
    (
      await api(s, 'POST', '/import/bulk_import', {
        body: {
          contacts: [
            {
              email: 'old@example.com',
              first_name: 'Al',
              tags: ['vip'],
              fields: [{ id: 1, value: 'gold' }],
              subscribe: [{ listid: 1 }],
            },
            { email: 'taken@example.com' },
          ],
        },
      })
    ).body.batchId,
  );
  s.personChange({ email: 'old@example.com', list: '2', status: 2, source: 'person' });
  return { id: info.success[0], other: info.success[1] };
}

describe('PUT /contacts/{id}', () => {
  it('changes the email of the same contact, which keeps its memberships, fields and tags', async () => {
    const s = await sim();
    const { id } = await world(s);
    const r = await api(s, 'PUT', `/contacts/${id}`, {
      body: { contact: { email: 'New@Example.com', lastName: 'Bo' } },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(
      [r.body.contact.id, r.body.contact.email, r.body.contact.firstName, r.body.contact.lastName],
      [id, 'new@example.com', 'Al', 'Bo'],
    );
    assert.deepEqual(
      r.body.fieldValues.map((fv: { field: string; value: string }) => [fv.field, fv.value]),
      [['1', 'gold']],
    );
    const snap = s.snapshot();
    assert.deepEqual(
      [
        snap.contacts,
        snap.lists['1']!.members['new@example.com']?.status,
        snap.lists['2']!.members['new@example.com']?.changedBy,
      ],
      [2, 1, 'person'],
    );
    assert.equal(snap.lists['1']!.members['old@example.com'], undefined);
    assert.deepEqual(snap.tags['new@example.com'], ['vip']);
    assert.equal((await api(s, 'GET', '/contacts?email=old@example.com')).body.meta.total, '0');
    assert.equal((await api(s, 'GET', '/contacts?email=new@example.com')).body.contacts[0].id, id);
    assert.equal(snap.counters.contactsCreated.byApi, 2, 'no second contact');
  });

  it('answers 422 duplicate for an email another contact has, and 200 for its own in another case', async () => {
    const s = await sim();
    const { id } = await world(s);
    const taken = await api(s, 'PUT', `/contacts/${id}`, { body: { contact: { email: 'TAKEN@example.com' } } });
    assert.deepEqual(
      [taken.status, taken.body.errors[0].code, taken.body.errors[0].source.pointer],
      [422, 'duplicate', '/data/attributes/email'],
    );
    assert.equal(s.snapshot().lists['1']!.members['old@example.com']?.contactId, id, 'nothing changed');
    assert.equal(
      (await api(s, 'PUT', `/contacts/${id}`, { body: { contact: { email: 'OLD@example.com', phone: '1' } } })).status,
      200,
    );
  });

  it('answers 404 for an unknown id and 400 for a bad email or body', async () => {
    const s = await sim();
    const { id } = await world(s);
    const unknown = await api(s, 'PUT', '/contacts/99', { body: { contact: { email: 'x@example.com' } } });
    assert.deepEqual([unknown.status, unknown.body], [404, { message: 'No Result found for Subscriber with id 99' }]);
    assert.equal(
      (await api(s, 'PUT', `/contacts/${id}`, { body: { contact: { email: 'not-an-email' } } })).body.errors[0].code,
      'email_invalid',
    );
    assert.equal((await api(s, 'PUT', `/contacts/${id}`, { body: { email: 'x@example.com' } })).status, 400);
  });
});

describe('DELETE /contacts/{id}', () => {
  it('deletes the contact with its memberships and tags; a second delete is 404', async () => {
    const s = await sim();
    const { id, other } = await world(s);
    const r = await api(s, 'DELETE', `/contacts/${id}`);
    assert.deepEqual([r.status, r.body], [200, {}]);
    const snap = s.snapshot();
    assert.deepEqual([snap.contacts, snap.counters.contactsDeleted], [1, 1]);
    assert.equal(snap.lists['1']!.members['old@example.com'], undefined);
    assert.equal(snap.lists['2']!.members['old@example.com'], undefined);
    assert.equal(snap.tags['old@example.com'], undefined);
    assert.equal((await api(s, 'GET', '/contacts?email=old@example.com')).body.meta.total, '0');
    assert.equal((await api(s, 'GET', `/contacts/${id}/contactLists`)).status, 404);
    const again = await api(s, 'DELETE', `/contacts/${id}`);
    assert.deepEqual([again.status, again.body], [404, { message: `No result found for contact with id ${id}` }]);
    assert.equal((await api(s, 'GET', `/contacts/${other}`)).body.contact.email, 'taken@example.com');
  });

  it('refuseDeletes: 403 and nothing deleted, until it is turned off', async () => {
    const s = await sim();
    const { id } = await world(s);
    s.configure({ refuseDeletes: true });
    const refused = await api(s, 'DELETE', `/contacts/${id}`);
    assert.equal(refused.status, 403);
    assert.equal(s.snapshot().counters.contactsDeleted, 0);
    assert.equal((await api(s, 'GET', `/contacts/${id}`)).status, 200);
    s.configure({ refuseDeletes: false });
    assert.equal((await api(s, 'DELETE', `/contacts/${id}`)).status, 200);
  });

  it('an import applied after the delete creates the contact again, with a new id', () => {
    const store = new Store();
    store.setLists([{ id: '1', name: 'One' }]);
    const { contact } = store.upsertContact({ email: 'gone@example.com' });
    assert.equal(store.deleteContact(contact.id), true);
    const outcome = applyImport(
      store,
      [{ email: 'gone@example.com', tags: [], fields: [], subscribe: ['1'], unsubscribe: [] }],
      {
        unsubscribedConflict: 'failure',
        repeatUnsubscribeMovesUdate: false,
        emptyBulkValueClears: false,
        importSuccessIncludesUpdated: true,
      },
    );
    assert.equal(outcome.success.length, 1);
    assert.notEqual(outcome.success[0], contact.id);
    assert.equal(store.deleteContact('99'), false);
  });
});

describe('GET /contacts/{id}', () => {
  it('answers the contact with its lists, tags and field values, or 404', async () => {
    const s = await sim();
    const { id } = await world(s);
    const r = await api(s, 'GET', `/contacts/${id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.contactLists.map((m: { list: string; status: string }) => [m.list, m.status]),
      [
        ['1', '1'],
        ['2', '2'],
      ],
    );
    assert.deepEqual(
      [r.body.contact.email, r.body.contactTags.length, r.body.fieldValues.length],
      ['old@example.com', 1, 1],
    );
    assert.deepEqual((await api(s, 'GET', '/contacts/99')).body, {
      message: 'No Result found for Subscriber with id 99',
    });
  });
});
