import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/index.js';
import { api, call, finished } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

describe('contacts created', () => {
  it('counts each contact the simulator created by the request that created it, and no update', async () => {
    const s = await startSimulator({
      limits: { enabled: false },
      importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 0 },
    });
    started.push(s);
    s.seedContact({ email: 'old@example.com', lists: { '1': 1 } });
    await call(s, 'POST', '/__sim/membership', {
      body: { email: 'own@example.com', list: '1', status: 2, source: 'person' },
      token: null,
    });
    const queued = await api(s, 'POST', '/import/bulk_import', {
      body: {
        contacts: [
          { email: 'sub@example.com', subscribe: [{ listid: 1 }], unsubscribe: [{ listid: 2 }] },
          { email: 'leave@example.com', unsubscribe: [{ listid: 1 }] },
          { email: 'plain@example.com' },
          { email: 'old@example.com', unsubscribe: [{ listid: 1 }] },
          { email: 'own@example.com', unsubscribe: [{ listid: 1 }] },
        ],
      },
    });
    await finished(s, queued.body.batchId);
    for (const email of ['synced@example.com', 'synced@example.com', 'old@example.com'])
      await api(s, 'POST', '/contact/sync', { body: { contact: { email } } });
    assert.equal((await api(s, 'POST', '/contacts', { body: { contact: { email: 'made@example.com' } } })).status, 201);
    assert.equal((await api(s, 'POST', '/contacts', { body: { contact: { email: 'made@example.com' } } })).status, 422);
    const snap = s.snapshot();
    assert.deepEqual(snap.counters.contactsCreated, {
      byApi: 5,
      bulkSubscribe: 1,
      bulkUnsubscribeOnly: 1,
      bulkNoLists: 1,
      sync: 1,
      create: 1,
      person: 1,
      seed: 1,
    });
    assert.equal(snap.contacts, 7);
  });
});
