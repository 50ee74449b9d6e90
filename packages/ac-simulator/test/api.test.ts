import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/index.js';
import { api, call } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

async function sim(opts: Parameters<typeof startSimulator>[0] = { limits: { enabled: false } }): Promise<Simulator> {
  const s = await startSimulator(opts);
  started.push(s);
  return s;
}

describe('authentication', () => {
  it('answers 403 {"message":"Forbidden"} to a missing or wrong Api-Token, with RateLimit-* headers', async () => {
    const s = await sim();
    for (const token of [null, 'wrong']) {
      const r = await api(s, 'GET', '/lists', { token });
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { message: 'Forbidden' });
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(r.headers.get('ratelimit-limit'), '5');
      assert.ok(r.headers.get('ratelimit-remaining') !== null);
    }
    assert.equal((await api(s, 'GET', '/lists')).status, 200);
    assert.equal(s.snapshot().counters.byStatus['403'], 2);
  });

  it('can answer 403 with no body and no Content-Type, and takes a new token at run time', async () => {
    const s = await sim({ forbiddenBody: 'none', limits: { enabled: false } });
    const r = await api(s, 'GET', '/lists', { token: 'wrong' });
    assert.equal(r.status, 403);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('content-type'), null);
    s.configure({ apiToken: 'wrong' });
    assert.equal((await api(s, 'GET', '/lists', { token: 'wrong' })).status, 200);
    assert.equal((await api(s, 'GET', '/lists', { token: 'sim-token' })).status, 403);
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After and RateLimit-Remaining 0 when driven over 5 requests per second', async () => {
    const s = await sim({});
    const answers = [];
    for (let i = 0; i < 30 && answers.at(-1)?.status !== 429; i++) answers.push(await api(s, 'GET', '/lists'));
    const refused = answers.at(-1)!;
    assert.equal(refused.status, 429, 'back-to-back requests go faster than 5 per second');
    assert.ok(answers.length >= 6, 'the burst of 5 is admitted');
    assert.deepEqual(
      answers.slice(0, 2).map((a) => [a.status, a.headers.get('ratelimit-remaining')]),
      [
        [200, '4'],
        [200, '3'],
      ],
    );
    assert.ok(answers.every((a) => a.headers.get('ratelimit-limit') === '5'));
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(refused.headers.get('ratelimit-remaining'), '0');
    assert.deepEqual(refused.body, { message: 'Too Many Requests' });
    const { counters } = s.snapshot();
    assert.equal(counters.rateLimited429, 1);
    assert.equal(counters.byStatus['429'], 1);
    assert.equal(counters.violations, 0);
  });

  it('scales the limit and Retry-After with timeScale, and sends a 429 without body when asked', async () => {
    // 0.125/s × 8 = one token per second: plenty of margin for six back-to-back requests on a slow machine.
    const s = await sim({ timeScale: 8, tooManyRequestsBody: 'none', limits: { requestsPerSecond: 0.125 } });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await api(s, 'GET', '/fields'));
    const refused = answers[5]!;
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '0.125');
    assert.equal(refused.headers.get('ratelimit-limit'), '1');
    assert.equal(refused.text, '');
  });

  it('refuses nothing when limits are disabled', async () => {
    const s = await sim({ limits: { enabled: false } });
    const statuses = await Promise.all(Array.from({ length: 50 }, () => api(s, 'GET', '/lists').then((r) => r.status)));
    assert.ok(statuses.every((st) => st === 200));
    assert.equal(s.snapshot().counters.rateLimited429, 0);
  });
});

describe('outages', () => {
  it('answers 503 without a body to every /api/3 request while unavailable, and recovers', async () => {
    const s = await sim();
    await call(s, 'POST', '/__sim/config', { body: { unavailable: true } });
    const r = await api(s, 'GET', '/lists');
    assert.equal(r.status, 503);
    assert.equal(r.text, '');
    assert.equal((await api(s, 'POST', '/import/bulk_import', { body: { contacts: [] } })).status, 503);
    s.configure({ unavailable: false });
    assert.equal((await api(s, 'GET', '/lists')).status, 200);
    assert.equal(s.snapshot().counters.unavailable503, 2);
  });

  it('injects random 503s at the configured rate', async () => {
    const s = await sim({ errorRate503: 1, limits: { enabled: false } });
    assert.equal((await api(s, 'GET', '/lists')).status, 503);
    s.configure({ errorRate503: 0 });
    assert.equal((await api(s, 'GET', '/lists')).status, 200);
  });
});

describe('contacts', () => {
  it('contact/sync upserts by normalised email and answers 201 both times', async () => {
    const s = await sim();
    const first = await api(s, 'POST', '/contact/sync', {
      body: { contact: { email: 'Ann@Example.com', firstName: 'Ann', fieldValues: [{ field: '1', value: 'gold' }] } },
    });
    assert.equal(first.status, 201);
    assert.equal(first.body.contact.email, 'ann@example.com');
    assert.equal(typeof first.body.contact.id, 'string');
    assert.deepEqual(
      first.body.fieldValues.map((fv: { field: string; value: string }) => [fv.field, fv.value]),
      [['1', 'gold']],
    );
    const second = await api(s, 'POST', '/contact/sync', {
      body: { contact: { email: 'ann@example.com', lastName: 'Lee' } },
    });
    assert.equal(second.status, 201);
    assert.equal(second.body.contact.id, first.body.contact.id);
    assert.equal(second.body.contact.firstName, 'Ann');
    assert.equal(second.body.contact.lastName, 'Lee');
    assert.equal(s.snapshot().contacts, 1);
  });

  it('refuses an invalid email and a body without a contact with 400', async () => {
    const s = await sim();
    const bad = await api(s, 'POST', '/contact/sync', { body: { contact: { email: 'invalid.email@invalidDomain' } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].code, 'email_invalid');
    assert.equal((await api(s, 'POST', '/contact/sync', { raw: '{not json' })).status, 400);
    assert.equal((await api(s, 'POST', '/contacts', { body: { email: 'a@example.com' } })).status, 400);
    assert.equal(s.snapshot().contacts, 0);
  });

  it('POST /contacts creates, then answers 422 duplicate for the same email', async () => {
    const s = await sim();
    assert.equal((await api(s, 'POST', '/contacts', { body: { contact: { email: 'bo@example.com' } } })).status, 201);
    const dup = await api(s, 'POST', '/contacts', { body: { contact: { email: 'BO@example.com' } } });
    assert.equal(dup.status, 422);
    assert.equal(dup.body.errors[0].code, 'duplicate');
    assert.equal(dup.body.errors[0].title, 'Email address already exists in the system');
  });

  it('GET /contacts?email= matches exactly, pages with limit/offset and gives meta.total as a string', async () => {
    const s = await sim();
    for (const email of ['a@example.com', 'aa@example.com', 'b@example.com']) s.seedContact({ email });
    const exact = await api(s, 'GET', '/contacts?email=A@example.com');
    assert.equal(exact.status, 200);
    assert.deepEqual(
      exact.body.contacts.map((c: { email: string }) => c.email),
      ['a@example.com'],
    );
    assert.equal(exact.body.meta.total, '1');
    const none = await api(s, 'GET', '/contacts?email=nobody@example.com');
    assert.deepEqual([none.body.contacts, none.body.meta.total], [[], '0']);
    const page = await api(s, 'GET', '/contacts?limit=2&offset=1');
    assert.deepEqual(
      page.body.contacts.map((c: { email: string }) => c.email),
      ['aa@example.com', 'b@example.com'],
    );
    assert.equal(page.body.meta.total, '3');
  });
});

describe('contactLists', () => {
  it(
    'subscribes, unsubscribes and re-subscribes; ' + 'the write answers status as a number, the read as a string',
    async () => {
      const s = await sim();
      const id = s.seedContact({ email: 'cy@example.com' });
      const post = (status: number | string) =>
        api(s, 'POST', '/contactLists', { body: { contactList: { list: '2', contact: id, status } } });
      const sub = await post(1);
      assert.equal(sub.status, 200);
      assert.equal(sub.body.contactList.status, 1);
      assert.equal(sub.body.contacts[0].id, id);
      assert.equal((await post('2')).body.contactList.status, 2);
      assert.equal(s.snapshot().lists['2']!.members['cy@example.com']!.status, 2);
      await post(1);
      assert.equal(s.snapshot().lists['2']!.members['cy@example.com']!.status, 1);
      assert.equal(s.snapshot().counters.forcedResubscribes, 0, 'the 2 was set through the API, not by the contact');
      const read = await api(s, 'GET', `/contacts/${id}/contactLists`);
      assert.deepEqual(
        read.body.contactLists.map((m: { list: string; status: string }) => [m.list, m.status]),
        [['2', '1']],
      );
    },
  );

  it('counts a forced re-subscribe of a contact who opted out themselves, and still applies it', async () => {
    const s = await sim();
    const id = s.seedContact({ email: 'optout@example.com', lists: { '1': 2 } });
    const r = await api(s, 'POST', '/contactLists', {
      body: { contactList: { list: 1, contact: Number(id), status: 1, sourceid: 4 } },
    });
    assert.equal(r.status, 200);
    const snap = s.snapshot();
    assert.equal(snap.counters.forcedResubscribes, 1);
    assert.equal(snap.lists['1']!.members['optout@example.com']!.status, 1);
  });

  it('answers 400 related_missing for an unknown list or contact, and 400 for a status other than 1 or 2', async () => {
    const s = await sim();
    const id = s.seedContact({ email: 'dee@example.com' });
    const noList = await api(s, 'POST', '/contactLists', {
      body: { contactList: { list: '99', contact: id, status: 1 } },
    });
    assert.equal(noList.status, 400);
    assert.deepEqual([noList.body.errors[0].code, noList.body.errors[0].error], ['related_missing', 'list_not_exist']);
    const noContact = await api(s, 'POST', '/contactLists', {
      body: { contactList: { list: '1', contact: '999', status: 1 } },
    });
    assert.deepEqual([noContact.status, noContact.body.errors[0].error], [400, 'contact_not_exist']);
    const badStatus = await api(s, 'POST', '/contactLists', {
      body: { contactList: { list: '1', contact: id, status: 3 } },
    });
    assert.equal(badStatus.status, 400);
    assert.deepEqual(s.snapshot().lists['1']!.members, {});
  });

  it('answers 404 for the memberships of an unknown contact', async () => {
    const s = await sim();
    const r = await api(s, 'GET', '/contacts/121/contactLists');
    assert.deepEqual([r.status, r.body], [404, { message: 'No Result found for Subscriber with id 121' }]);
  });
});

describe('lists and fields', () => {
  it('lists the seeded lists, finds one by id and answers 404 for an unknown one', async () => {
    const s = await sim();
    const all = await api(s, 'GET', '/lists');
    assert.deepEqual(
      all.body.lists.map((l: { id: string }) => l.id),
      ['1', '2', '3', '4', '5'],
    );
    assert.equal(all.body.meta.total, '5');
    const one = await api(s, 'GET', '/lists/3');
    assert.deepEqual([one.status, one.body.list.id, one.body.list.name], [200, '3', 'Simulated list 3']);
    const missing = await api(s, 'GET', '/lists/7');
    assert.deepEqual([missing.status, missing.body], [404, { message: 'No Result found for _List with id 7' }]);
    assert.equal(s.snapshot().counters.byEndpoint['GET /lists/{id}'], 2, 'counted by route template');
  });

  it('pages fields and filters them by perstag', async () => {
    const s = await sim({
      limits: { enabled: false },
      fields: [1, 2, 3].map((n) => ({ id: String(n), title: `F${n}`, perstag: `F${n}` })),
    });
    const page = await api(s, 'GET', '/fields?limit=2&offset=1');
    assert.deepEqual(
      page.body.fields.map((f: { id: string }) => f.id),
      ['2', '3'],
    );
    assert.equal(page.body.meta.total, '3');
    const tagged = await api(s, 'GET', '/fields?filters[perstag]=f2');
    assert.deepEqual(
      tagged.body.fields.map((f: { perstag: string }) => f.perstag),
      ['F2'],
    );
  });
});

describe('simulator controls', () => {
  it('seeds contacts, changes options, resets and reports over HTTP', async () => {
    const s = await sim();
    const seeded = await call(s, 'POST', '/__sim/contacts', { body: { email: 'eve@example.com', lists: { '4': 2 } } });
    assert.equal(seeded.status, 201);
    assert.equal(typeof seeded.body.id, 'string');
    assert.equal((await call(s, 'POST', '/__sim/contacts', { body: { email: 'not-an-email' } })).status, 400);
    assert.equal((await call(s, 'POST', '/__sim/config', { body: { timeScale: -1 } })).status, 400);
    assert.equal((await call(s, 'POST', '/__sim/config', { body: { noSuchOption: true } })).status, 400);
    const configured = await call(s, 'POST', '/__sim/config', { body: { limits: { retryAfterSeconds: 2 } } });
    assert.deepEqual([configured.body.limits.retryAfterSeconds, configured.body.limits.burst], [2, 5]);
    await api(s, 'GET', '/lists');
    const state = await call(s, 'GET', '/__sim/state');
    assert.equal(state.body.lists['4'].members['eve@example.com'].status, 2);
    assert.equal(state.body.counters.requests, 1);
    assert.equal((await call(s, 'POST', '/__sim/reset')).status, 200);
    const after = s.snapshot();
    assert.deepEqual([after.contacts, after.counters.requests, Object.keys(after.lists).length], [0, 0, 5]);
  });

  it('refuses bad options at start and close() is idempotent', async () => {
    await assert.rejects(startSimulator({ errorRate503: 2 }), /errorRate503/);
    const s = await startSimulator();
    await Promise.all([s.close(), s.close()]);
    await s.close();
    await assert.rejects(fetch(`${s.url}/__sim/state`));
  });
});
