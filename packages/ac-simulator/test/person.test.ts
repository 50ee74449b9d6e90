import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { applyImport } from '../src/apply-import.js';
import type { ImportContact } from '../src/bulk-import.js';
import { startSimulator, type Simulator, type SimulatorOptionsInput } from '../src/index.js';
import { Store } from '../src/store.js';
import { api, call, finished } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

const FAST: SimulatorOptionsInput = {
  limits: { enabled: false },
  importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 0 },
};

async function sim(opts: SimulatorOptionsInput = FAST): Promise<Simulator> {
  const s = await startSimulator(opts);
  started.push(s);
  return s;
}

const person = (s: Simulator, body: unknown) => call(s, 'POST', '/__sim/membership', { body, token: null });
const bulk = async (s: Simulator, contacts: unknown[]) =>
  finished(s, (await api(s, 'POST', '/import/bulk_import', { body: { contacts } })).body.batchId);

describe("a person's own changes (POST /__sim/membership)", () => {
  it('unsubscribes a person themselves, creating the contact when missing, and says so in the snapshot', async () => {
    const s = await sim();
    const r = await person(s, { email: 'Ann@Example.com', list: '1', status: 2, source: 'person' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { contact: '1', list: '1', status: 2 });
    const m = s.snapshot().lists['1']!.members['ann@example.com']!;
    assert.deepEqual([m.status, m.contactId, m.changedBy], [2, '1', 'person']);
    assert.match(m.udate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.equal(s.snapshot().contacts, 1);
  });

  it(
    're-subscribes through a form (changedBy "form"), ' + 'and a later own unsubscribe wins over a bulk subscribe',
    async () => {
      const s = await sim();
      await bulk(s, [{ email: 'bo@example.com', unsubscribe: [{ listid: 1 }] }, { email: 'x@example.com' }]);
      assert.equal(s.snapshot().lists['1']!.members['bo@example.com']!.changedBy, 'service-bulk');
      const form = await person(s, { email: 'bo@example.com', list: 1, status: 1, source: 'form' });
      assert.deepEqual(form.body, { contact: '1', list: '1', status: 1 });
      assert.deepEqual(
        [
          s.snapshot().lists['1']!.members['bo@example.com']!.status,
          s.snapshot().lists['1']!.members['bo@example.com']!.changedBy,
        ],
        [1, 'form'],
      );
      await person(s, { email: 'bo@example.com', list: '1', status: 2, source: 'person' });
      const info = await bulk(s, [{ email: 'bo@example.com', subscribe: [{ listid: 1 }] }, { email: 'y@example.com' }]);
      assert.deepEqual(info.failure, ['bo@example.com']);
      const m = s.snapshot().lists['1']!.members['bo@example.com']!;
      assert.deepEqual([m.status, m.changedBy], [2, 'person']);
    },
  );

  it(
    'counts a contactLists re-subscribe of a person’s own unsubscribe as forced, ' + 'and of the service’s as not',
    async () => {
      const s = await sim();
      const own = (await person(s, { email: 'own@example.com', list: '1', status: 2, source: 'person' })).body.contact;
      const info = await bulk(s, [
        { email: 'svc@example.com', unsubscribe: [{ listid: 1 }] },
        { email: 'z@example.com' },
      ]);
      const svc = info.success[0];
      for (const contact of [svc, own]) {
        const r = await api(s, 'POST', '/contactLists', {
          body: { contactList: { list: '1', contact, status: 1, sourceid: 4 } },
        });
        assert.equal(r.status, 200);
      }
      const snap = s.snapshot();
      assert.equal(snap.counters.forcedResubscribes, 1);
      assert.equal(snap.lists['1']!.members['own@example.com']!.changedBy, 'service-contactLists');
    },
  );

  it('refuses a bad email, an unknown list, a bad status or source, with 400 and nothing changed', async () => {
    const s = await sim();
    const good = { email: 'a@example.com', list: '1', status: 2, source: 'person' };
    for (const bad of [
      { ...good, email: 'nope' },
      { ...good, list: '99' },
      { ...good, status: 3 },
      { ...good, source: 'service' },
      [good],
    ]) {
      const r = await person(s, bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(r.body.message, /^Invalid membership change/);
    }
    assert.equal(s.snapshot().contacts, 0);
  });
});

describe('seeded memberships', () => {
  it('seeds status 0 (unconfirmed) with changedBy "seed", and the API shows it as "0"', async () => {
    const s = await sim();
    const id = s.seedContact({ email: 'pending@example.com', lists: { '1': 0, '2': 2 } });
    const snap = s.snapshot();
    assert.deepEqual(
      [
        snap.lists['1']!.members['pending@example.com']!.status,
        snap.lists['1']!.members['pending@example.com']!.changedBy,
      ],
      [0, 'seed'],
    );
    const r = await api(s, 'GET', `/contacts/${id}/contactLists`);
    assert.deepEqual(
      r.body.contactLists.map((m: { list: string; status: string }) => [m.list, m.status]),
      [
        ['1', '0'],
        ['2', '2'],
      ],
    );
    assert.throws(() => s.seedContact({ email: 'bad@example.com', lists: { '1': 4 as never } }), /status 4/);
  });
});

describe('repeatUnsubscribeMovesUdate', () => {
  const unsubscribe: ImportContact = {
    email: 'rep@example.com',
    tags: [],
    fields: [],
    subscribe: [],
    unsubscribe: ['1'],
  };

  for (const moves of [false, true]) {
    it(
      `${moves ? 'moves' : 'keeps'} the udate of an ` +
        `already-unsubscribed membership on a bulk unsubscribe (${moves})`,
      () => {
        let now = Date.parse('2026-12-01T10:00:00Z');
        const store = new Store(() => new Date(now));
        store.setLists([{ id: '1', name: 'One' }]);
        const { contact } = store.upsertContact({ email: 'rep@example.com' });
        store.setMembership(contact.id, '1', 2, { by: 'person' });
        now += 60_000;
        applyImport(store, [unsubscribe], {
          unsubscribedConflict: 'failure',
          repeatUnsubscribeMovesUdate: moves,
          emptyBulkValueClears: false,
          importSuccessIncludesUpdated: true,
        });
        const m = store.membersOf('1')['rep@example.com']!;
        assert.equal(m.udate, moves ? '2026-12-01T10:01:00+00:00' : '2026-12-01T10:00:00+00:00');
        assert.equal(m.changedBy, moves ? 'service-bulk' : 'person');
      },
    );
  }

  it('defaults to false and can be switched at run time', async () => {
    const s = await sim();
    assert.equal(s.options.repeatUnsubscribeMovesUdate, false);
    s.configure({ repeatUnsubscribeMovesUdate: true });
    assert.equal(s.options.repeatUnsubscribeMovesUdate, true);
    assert.throws(() => s.configure({ repeatUnsubscribeMovesUdate: 'yes' as never }), /repeatUnsubscribeMovesUdate/);
  });
});
