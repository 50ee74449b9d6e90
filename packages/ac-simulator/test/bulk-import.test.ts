import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startSimulator, type Simulator, type SimulatorOptionsInput } from '../src/index.js';
import { api, contacts, finished, waitFor } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

const FAST: SimulatorOptionsInput = {
  limits: { enabled: false },
  importDelaysMs: { statusFalse: 10, waiting: 10, claimed: 10, active: 10 },
};

async function sim(opts: SimulatorOptionsInput = FAST): Promise<Simulator> {
  const s = await startSimulator(opts);
  started.push(s);
  return s;
}

const VALIDATION =
  'JSON payload did not pass validation. Please fix failure ' +
  'Reasons and retry. The import was not queued for processing.';
const bulk = (s: Simulator, body: unknown) => api(s, 'POST', '/import/bulk_import', { body });

describe('bulk import validation', () => {
  it('queues 250 contacts and refuses 251 with 400, queueing nothing', async () => {
    const s = await sim();
    const refused = await bulk(s, { contacts: contacts(251) });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.success, 0);
    assert.equal(typeof refused.body.failureReasons[0], 'string');
    assert.equal(s.snapshot().counters.importsAccepted, 0);
    const ok = await bulk(s, { contacts: contacts(250) });
    assert.equal(ok.status, 200);
    assert.deepEqual([ok.body.Success, ok.body.queued_contacts, ok.body.message], [1, 250, 'Contact import queued']);
    assert.match(ok.body.batchId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const { counters } = s.snapshot();
    assert.deepEqual(
      [counters.importsAccepted, counters.contactsImported, counters.maxContactsInImport],
      [1, 250, 250],
    );
  });

  for (const base of [0, 1] as const) {
    it(`refuses the whole request for an invalid email, naming it by a ${base}-based index`, async () => {
      const s = await sim({ ...FAST, failureIndexBase: base });
      const list = contacts(5);
      list[2]!.email = 'invalid.email@invalidDomain';
      list[4]!.email = "invalid'character@example.com";
      const r = await bulk(s, { contacts: list });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, {
        success: 0,
        message: VALIDATION,
        failureReasons: [
          { contact: 2 + base, failureReason: 'Field‘ email’ incorrect format' },
          { contact: 4 + base, failureReason: 'Field‘ email’ incorrect format' },
        ],
      });
      const snap = s.snapshot();
      assert.deepEqual([snap.counters.importsAccepted, snap.imports.queued], [0, 0]);
    });
  }

  for (const [shape, reason] of [
    ['string-index', { contact: '1', failureReason: 'Field‘ email’ incorrect format' }],
    ['undocumented', { failureReason: 'Field‘ email’ incorrect format' }],
  ] as const) {
    const goodHalf = 'a good half is accepted';
    it(`answers a validation 400 with validation400Shape '${shape}', and queues nothing; ${goodHalf}`, async () => {
      const s = await sim({ ...FAST, validation400Shape: shape });
      const list = contacts(4);
      list[1]!.email = 'no-at-sign';
      const r = await bulk(s, { contacts: list });
      assert.deepEqual([r.status, r.body], [400, { success: 0, message: VALIDATION, failureReasons: [reason] }]);
      assert.equal(
        (await bulk(s, { contacts: list.slice(2) })).status,
        200,
        'a bisecting client gets the good half through',
      );
      assert.equal(s.snapshot().counters.importsAccepted, 1);
    });
  }

  it('refuses bodies of maxBodyBytes or more, invalid JSON, no contacts and non-integer field ids', async () => {
    const s = await sim({ ...FAST, limits: { enabled: false, maxBodyBytes: 1_000 } });
    const sized = (bytes: number): string => {
      const body = { contacts: [{ email: 'a@example.com', first_name: '' }, { email: 'b@example.com' }] };
      const pad = bytes - JSON.stringify(body).length;
      body.contacts[0]!.first_name = 'x'.repeat(pad);
      return JSON.stringify(body);
    };
    assert.equal((await api(s, 'POST', '/import/bulk_import', { raw: sized(999) })).status, 200);
    const tooLarge = await api(s, 'POST', '/import/bulk_import', { raw: sized(1_000) });
    assert.equal(tooLarge.status, 400);
    assert.equal(tooLarge.body.success, 0);
    assert.match(tooLarge.body.failureReasons[0], /1000 bytes/);
    assert.equal((await api(s, 'POST', '/import/bulk_import', { raw: '{"contacts":[' })).status, 400);
    assert.equal((await bulk(s, { contacts: [] })).status, 400);
    assert.equal((await bulk(s, { contact: { email: 'a@example.com' } })).status, 400);
    const perstag = await bulk(s, { contacts: [{ email: 'a@example.com', fields: [{ id: 'COUNTRY', value: 'NL' }] }] });
    assert.deepEqual(perstag.body.failureReasons, [{ contact: 0, failureReason: 'Field‘ fields’ incorrect format' }]);
    assert.equal(s.snapshot().counters.importsAccepted, 1);
  });
});

describe('bulk import per-minute limits', () => {
  // timeScale 30: a "minute" lasts 2 s; the requests-per-second budget is raised out of the way.
  const scaled: SimulatorOptionsInput = {
    ...FAST,
    timeScale: 30,
    limits: { requestsPerSecond: 10_000, burst: 10_000 },
  };

  it(
    'answers the documented "Rate limit exceeded." 400 ' + 'to the 101st multi-contact import within a minute',
    async () => {
      const s = await sim(scaled);
      for (let i = 0; i < 100; i++)
        assert.equal((await bulk(s, { contacts: contacts(2, `m${i}-`) })).status, 200, `import ${i + 1}`);
      const refused = await bulk(s, { contacts: contacts(2, 'late') });
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.body, {
        success: 0,
        message: 'Rate limit exceeded.',
        failureReasons: [
          'Up to 100 imports may be requested per minute.Please batch ' +
            'contacts into larger requests, or retry this request in a minute.',
        ],
      });
      assert.equal(
        (await bulk(s, { contacts: contacts(1, 'single') })).status,
        200,
        'single-contact imports have their own budget',
      );
      const snap = s.snapshot();
      assert.deepEqual([snap.counters.bulkRateLimited400, snap.counters.importsAccepted], [1, 101]);
      await waitFor(
        'the window to free a slot',
        async () => ((await bulk(s, { contacts: contacts(2, 'again') })).status === 200 ? true : undefined),
        5_000,
        100,
      );
    },
  );

  it('allows 20 single-contact imports per minute', async () => {
    const s = await sim(scaled);
    for (let i = 0; i < 20; i++)
      assert.equal((await bulk(s, { contacts: contacts(1, `s${i}-`) })).status, 200, `import ${i + 1}`);
    const refused = await bulk(s, { contacts: contacts(1, 'late') });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.message, 'Rate limit exceeded.');
    assert.match(refused.body.failureReasons[0], /^Up to 20 imports may be requested per minute\./);
    assert.equal((await bulk(s, { contacts: contacts(3, 'multi') })).status, 200);
  });

  it('charges neither 403 nor 429 answers to the bulk budget', async () => {
    const s = await sim({
      ...FAST,
      timeScale: 30,
      limits: { bulkSinglePerMinute: 1, requestsPerSecond: 10_000, burst: 10_000 },
    });
    assert.equal(
      (await api(s, 'POST', '/import/bulk_import', { body: { contacts: contacts(1) }, token: 'wrong' })).status,
      403,
    );
    s.configure({ limits: { burst: 1, requestsPerSecond: 0.001 } });
    await api(s, 'GET', '/lists');
    assert.equal((await bulk(s, { contacts: contacts(1) })).status, 429);
    s.configure({ limits: { burst: 10_000, requestsPerSecond: 10_000 } });
    await waitFor('a token', async () => ((await api(s, 'GET', '/lists')).status === 200 ? true : undefined));
    assert.equal((await bulk(s, { contacts: contacts(1) })).status, 200);
  });
});

describe('bulk import processing', () => {
  it('goes false → waiting → claimed → active → completed and then applies the memberships', async () => {
    const s = await sim({
      limits: { enabled: false },
      importDelaysMs: { statusFalse: 120, waiting: 120, claimed: 120, active: 120 },
    });
    const queued = await bulk(s, {
      contacts: [
        {
          email: 'Fay@Example.com',
          first_name: 'Fay',
          tags: ['vip'],
          fields: [{ id: 2, value: 'NL' }],
          subscribe: [{ listid: 1 }, { listid: '3' }],
        },
        { email: 'gus@example.com', subscribe: [{ listid: 1 }], unsubscribe: [{ listid: 2 }] },
      ],
    });
    const seen: unknown[] = [];
    const info = await waitFor('completed', async () => {
      const r = await api(s, 'GET', `/import/info?batchId=${queued.body.batchId}`);
      assert.equal(r.status, 200);
      if (seen.at(-1) !== r.body.status) seen.push(r.body.status);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    assert.deepEqual(seen, [false, 'waiting', 'claimed', 'active', 'completed']);
    assert.equal(info.success.length, 2);
    assert.deepEqual(info.failure, []);
    const snap = s.snapshot();
    const brief = (list: string) =>
      Object.fromEntries(
        Object.entries(snap.lists[list]!.members).map(([e, m]) => [e, [m.status, m.contactId, m.changedBy]]),
      );
    assert.deepEqual(brief('1'), {
      'fay@example.com': [1, info.success[0], 'service-bulk'],
      'gus@example.com': [1, info.success[1], 'service-bulk'],
    });
    assert.equal(snap.lists['3']!.members['fay@example.com']!.status, 1);
    assert.equal(snap.lists['2']!.members['gus@example.com']!.status, 2);
    assert.deepEqual([snap.imports.completed, snap.imports.outstanding, snap.counters.contactsApplied], [1, 0, 2]);
    const synced = await api(s, 'POST', '/contact/sync', { body: { contact: { email: 'fay@example.com' } } });
    assert.deepEqual([synced.body.contact.firstName, synced.body.fieldValues[0].value], ['Fay', 'NL']);
  });

  it('finishes imports in the order they were accepted', async () => {
    const s = await sim({
      limits: { enabled: false },
      importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 300 },
    });
    const first = await bulk(s, { contacts: contacts(2, 'first') });
    s.configure({ importDelaysMs: { active: 0 } });
    const second = await bulk(s, { contacts: contacts(2, 'second') });
    await finished(s, second.body.batchId);
    const firstInfo = await api(s, 'GET', `/import/info?batchId=${first.body.batchId}`);
    assert.equal(firstInfo.body.status, 'completed', 'the earlier import finished first');
    assert.equal(Object.keys(s.snapshot().lists['1']!.members).length, 4);
  });

  for (const mode of ['failure', 'skip'] as const) {
    it(`never re-subscribes an unsubscribed contact (unsubscribedConflict: '${mode}')`, async () => {
      const s = await sim({ ...FAST, unsubscribedConflict: mode });
      const id = s.seedContact({ email: 'optout@example.com', firstName: 'Old', lists: { '1': 2 } });
      const queued = await bulk(s, {
        contacts: [
          { email: 'optout@example.com', first_name: 'New', subscribe: [{ listid: 1 }] },
          ...contacts(1, 'fresh'),
        ],
      });
      const info = await finished(s, queued.body.batchId);
      assert.equal(info.status, 'completed');
      const snap = s.snapshot();
      assert.equal(snap.lists['1']!.members['optout@example.com']!.status, 2);
      assert.equal(snap.lists['1']!.members['fresh0@example.com']!.status, 1);
      const synced = await api(s, 'POST', '/contact/sync', { body: { contact: { email: 'optout@example.com' } } });
      if (mode === 'failure') {
        assert.deepEqual(info.failure, ['optout@example.com']);
        assert.equal(info.success.length, 1);
        assert.ok(!info.success.includes(id));
        assert.equal(synced.body.contact.firstName, 'Old', 'nothing of a failed contact is applied');
      } else {
        assert.deepEqual(info.failure, []);
        assert.ok(info.success.includes(id));
        assert.equal(synced.body.contact.firstName, 'New', 'the contact is upserted, only the subscribe is skipped');
      }
    });
  }

  it('marks a bulk unsubscribe as set by the API: re-subscribing it is not a forced re-subscribe', async () => {
    const s = await sim();
    const queued = await bulk(s, {
      contacts: [{ email: 'hal@example.com', unsubscribe: [{ listid: 1 }] }, ...contacts(1)],
    });
    const info = await finished(s, queued.body.batchId);
    await api(s, 'POST', '/contactLists', {
      body: { contactList: { list: '1', contact: info.success[0], status: 1 } },
    });
    const snap = s.snapshot();
    assert.equal(snap.lists['1']!.members['hal@example.com']!.status, 1);
    assert.equal(snap.counters.forcedResubscribes, 0);
  });

  for (const fate of ['failed', 'interrupted'] as const) {
    it(`ends imports ${fate} without applying them when failImports is '${fate}'`, async () => {
      const s = await sim({ ...FAST, failImports: fate });
      const queued = await bulk(s, { contacts: contacts(3) });
      assert.equal(queued.status, 200);
      const info = await finished(s, queued.body.batchId);
      assert.deepEqual(info, { status: fate, success: [], failure: [] });
      const snap = s.snapshot();
      assert.deepEqual([snap.contacts, snap.imports[fate]], [0, 1]);
    });
  }
});

describe('import status', () => {
  it('answers 400 without a batchId and 404 for an unknown one', async () => {
    const s = await sim();
    const missing = await api(s, 'GET', '/import/info');
    assert.deepEqual([missing.status, missing.body], [400, { success: 0, message: "'batchId' is a required field." }]);
    const unknown = await api(s, 'GET', '/import/info?batchId=0641fbdd-f62f-4c2c-ba02-3a83d5d11ac9');
    assert.deepEqual(
      [unknown.status, unknown.body],
      [404, { message: 'No Result found for Import with id 0641fbdd-f62f-4c2c-ba02-3a83d5d11ac9' }],
    );
    assert.equal(s.snapshot().counters.byEndpoint['GET /import/info'], 2);
  });

  it('aggregates outstanding and recently completed imports by day', async () => {
    const s = await sim({
      limits: { enabled: false },
      importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 0 },
    });
    await finished(s, (await bulk(s, { contacts: contacts(3) })).body.batchId);
    s.configure({ importDelaysMs: { active: 60_000 } });
    await bulk(s, { contacts: contacts(4) });
    const r = await api(s, 'GET', '/import/bulk_import');
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual(r.body, {
      outstanding: [{ forDate: today, batches: '1', contacts: '4' }],
      recentlyCompleted: [{ forDate: today, batches: '1', contacts: '3' }],
    });
  });
});
