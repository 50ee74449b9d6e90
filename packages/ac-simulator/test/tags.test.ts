import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/index.js';
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

async function imported(s: Simulator, contacts: unknown[]) {
  return finished(s, (await api(s, 'POST', '/import/bulk_import', { body: { contacts } })).body.batchId);
}

describe('tags', () => {
  it('records bulk import tags per contact, creating missing tags once, and shows them in the snapshot', async () => {
    const s = await sim();
    await imported(s, [
      { email: 'a@example.com', tags: ['segment:vip', 'segment:news'] },
      { email: 'b@example.com', tags: ['segment:news'] },
      { email: 'c@example.com' },
    ]);
    await imported(s, [
      { email: 'a@example.com', tags: ['segment:vip'] },
      { email: 'c@example.com', tags: [] },
    ]);
    assert.deepEqual(s.snapshot().tags, {
      'a@example.com': ['segment:news', 'segment:vip'],
      'b@example.com': ['segment:news'],
    });
    const all = await api(s, 'GET', '/tags');
    assert.deepEqual(
      all.body.tags.map((t: { id: string; tag: string; tagType: string }) => [t.id, t.tag, t.tagType]),
      [
        ['1', 'segment:vip', 'contact'],
        ['2', 'segment:news', 'contact'],
      ],
    );
    assert.equal(all.body.meta.total, '2');
  });

  it('finds tags with search (contains) and filters[search][eq]', async () => {
    const s = await sim();
    await imported(s, [
      { email: 'a@example.com', tags: ['segment:vip', 'segment:vip-2', 'other'] },
      { email: 'b@example.com' },
    ]);
    const names = async (q: string) => (await api(s, 'GET', `/tags?${q}`)).body.tags.map((t: { tag: string }) => t.tag);
    assert.deepEqual(await names('search=VIP'), ['segment:vip', 'segment:vip-2']);
    assert.deepEqual(await names(`filters[search][eq]=${encodeURIComponent('segment:vip')}`), ['segment:vip']);
    assert.deepEqual(await names('search=nothing'), []);
    assert.deepEqual(await names('limit=1&offset=2'), ['other']);
  });

  it('adds, lists and removes a contact tag through the contactTags endpoints', async () => {
    const s = await sim();
    const info = await imported(s, [{ email: 'a@example.com', tags: ['keep'] }, { email: 'b@example.com' }]);
    const contact = info.success[0];
    const created = await api(s, 'POST', '/tags', {
      body: { tag: { tag: 'extra', tagType: 'contact', description: 'd' } },
    });
    assert.equal(created.status, 201);
    assert.deepEqual([created.body.tag.tag, created.body.tag.id], ['extra', '2']);
    assert.equal(
      (await api(s, 'POST', '/tags', { body: { tag: { tag: 'extra' } } })).status,
      422,
      'a name already taken',
    );

    const added = await api(s, 'POST', '/contactTags', { body: { contactTag: { contact, tag: '2' } } });
    assert.equal(added.status, 201);
    assert.deepEqual([added.body.contactTag.contact, added.body.contactTag.tag], [contact, '2']);
    const again = await api(s, 'POST', '/contactTags', { body: { contactTag: { contact: Number(contact), tag: 2 } } });
    assert.deepEqual(
      [again.status, again.body.contactTag.id],
      [201, added.body.contactTag.id],
      'a tag the contact has already answers the same contactTag',
    );
    assert.deepEqual(s.snapshot().tags['a@example.com'], ['extra', 'keep']);

    const listed = await api(s, 'GET', `/contacts/${contact}/contactTags`);
    assert.deepEqual(
      listed.body.contactTags.map((ct: { tag: string }) => ct.tag),
      ['1', '2'],
    );
    const removed = await api(s, 'DELETE', `/contactTags/${added.body.contactTag.id}`);
    assert.deepEqual([removed.status, removed.body], [200, {}]);
    assert.deepEqual(s.snapshot().tags['a@example.com'], ['keep']);
    const gone = await api(s, 'DELETE', `/contactTags/${added.body.contactTag.id}`);
    assert.deepEqual(
      [gone.status, gone.body],
      [404, { message: `No Result found for SubscriberTag with id ${added.body.contactTag.id}` }],
    );
    assert.equal(s.snapshot().counters.byEndpoint['DELETE /contactTags/{id}'], 2);
  });

  it('answers 422 for a missing attribute and 404 for an unknown contact, tag or tag id', async () => {
    const s = await sim();
    const info = await imported(s, [{ email: 'a@example.com', tags: ['t'] }, { email: 'b@example.com' }]);
    const missing = await api(s, 'POST', '/contactTags', { body: { contactTag: { tag: '1' } } });
    assert.deepEqual(
      [missing.status, missing.body],
      [422, { errors: [{ status: 422, title: 'Missing attribute', source: { pointer: '/data/attributes/contact' } }] }],
    );
    const noContact = await api(s, 'POST', '/contactTags', { body: { contactTag: { contact: '99', tag: '1' } } });
    assert.deepEqual(
      [noContact.status, noContact.body],
      [404, { errors: [{ status: 404, title: 'Not Found', detail: 'Contact not found' }] }],
    );
    assert.equal(
      (await api(s, 'POST', '/contactTags', { body: { contactTag: { contact: info.success[0], tag: '99' } } })).status,
      404,
    );
    assert.deepEqual((await api(s, 'GET', '/contacts/99/contactTags')).body, {
      message: 'No Result found for Subscriber with id 99',
    });
    assert.deepEqual((await api(s, 'GET', '/tags/99')).body, { message: 'No Result found for Tag with id 99' });
    assert.equal((await api(s, 'GET', '/tags/1')).body.tag.tag, 't');
  });
});
