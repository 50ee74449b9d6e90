import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startSimulator, type Simulator, type SimulatorOptionsInput } from '../src/index.js';
import { api, contacts, finished } from './helpers.js';

/** Switches for the smaller [UNCONFIRMED] readings of CONTRACT.md. */
const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

async function sim(opts: SimulatorOptionsInput): Promise<Simulator> {
  const s = await startSimulator({ importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 0 }, ...opts });
  started.push(s);
  return s;
}

describe('importSuccessIncludesUpdated', () => {
  for (const includes of [true, false]) {
    it(`${includes ? 'lists' : 'leaves out'} updated contacts in /import/info success (${includes})`, async () => {
      const s = await sim({ limits: { enabled: false }, importSuccessIncludesUpdated: includes });
      const old = s.seedContact({ email: 'person0@example.com' });
      const info = await finished(
        s,
        (await api(s, 'POST', '/import/bulk_import', { body: { contacts: contacts(2) } })).body.batchId,
      );
      assert.equal(info.success.length, includes ? 2 : 1);
      assert.equal(info.success.includes(old), includes);
      assert.equal(s.snapshot().counters.contactsApplied, includes ? 2 : 1);
    });
  }
});

describe('syncUpdateStatus', () => {
  it('answers 201 when sync creates and the configured status when it updates', async () => {
    const s = await sim({ limits: { enabled: false } });
    const sync = async () =>
      (await api(s, 'POST', '/contact/sync', { body: { contact: { email: 'a@example.com' } } })).status;
    assert.deepEqual([await sync(), await sync()], [201, 201]);
    s.configure({ syncUpdateStatus: 200 });
    assert.equal(await sync(), 200);
    assert.throws(() => s.configure({ syncUpdateStatus: 204 as never }), /syncUpdateStatus/);
  });
});

describe('contactsIdPaging', () => {
  it("a list's members page by id (orders[id], id_greater) unless it is off: then both are ignored", async () => {
    const s = await sim({ limits: { enabled: false } });
    for (let i = 0; i < 5; i++) s.seedContact({ email: `m${i}@example.com`, lists: { '1': i === 4 ? 2 : 1 } });
    s.seedContact({ email: 'other@example.com', lists: { '2': 1 } });
    const ids = async (query: string) =>
      (
        (await api(s, 'GET', `/contacts?listid=1&status=-1&limit=2&${query}`)).body as { contacts: { id: string }[] }
      ).contacts.map((c) => Number(c.id));
    const [first] = await ids('orders%5Bid%5D=ASC');
    assert.deepEqual(await ids('orders%5Bid%5D=DESC'), [first! + 4, first! + 3], 'highest first; any status');
    assert.deepEqual(await ids(`orders%5Bid%5D=ASC&id_greater=${first! + 1}`), [first! + 2, first! + 3]);
    s.configure({ contactsIdPaging: false });
    assert.deepEqual(await ids('orders%5Bid%5D=DESC'), [first!, first! + 1]);
    assert.deepEqual(await ids(`orders%5Bid%5D=ASC&id_greater=${first! + 1}`), [first!, first! + 1]);
  });
});

describe('rateLimitHeaders', () => {
  it("'429-only' sends RateLimit-* only with a 429, 'none' never", async () => {
    const s = await sim({ rateLimitHeaders: '429-only', limits: { burst: 1, requestsPerSecond: 0.01 } });
    const ok = await api(s, 'GET', '/lists');
    assert.deepEqual([ok.status, ok.headers.get('ratelimit-limit')], [200, null]);
    const refused = await api(s, 'GET', '/lists');
    assert.deepEqual(
      [refused.status, refused.headers.get('ratelimit-remaining'), refused.headers.get('retry-after')],
      [429, '0', '1'],
    );
    s.configure({ rateLimitHeaders: 'none' });
    const none = await api(s, 'GET', '/lists');
    assert.deepEqual(
      [none.status, none.headers.get('ratelimit-limit'), none.headers.get('retry-after')],
      [429, null, '1'],
    );
  });
});
