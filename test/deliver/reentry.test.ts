import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyUpdate, newEntry, type ContactEntry, type ListChange } from '../../src/buffer/contact-entry.js';
import type { Verdict } from '../../src/deliver/classify.js';
import type { AcApi, Answer } from '../../src/deliver/client.js';
import { planBatch } from '../../src/deliver/plan.js';
import { ReentryJob, type ReentryItem } from '../../src/deliver/reentry.js';
import type { Route } from '../../src/ledger/decide.js';

function entry(email: string, lists: Record<string, 'add' | 'remove'>): ContactEntry<string> {
  const e = newEntry<string>(email, 0);
  let seq = 0;
  for (const [listId, op] of Object.entries(lists))
    applyUpdate(e, {
      email,
      fields: new Map(),
      tags: [],
      excludeAutomations: false,
      listId,
      op,
      occurredAt: 100,
      seq: seq++,
      ref: `${email}/${listId}`,
    });
  return e;
}

describe('planBatch', () => {
  const routes: Record<string, Route> = {
    '1': { kind: 'import' },
    '2': { kind: 'resubscribe', window: { from: 5_000, to: 9_000 } },
    '3': { kind: 'stale' },
    '4': { kind: 'reentry-off' },
  };
  const route = (_: string, listId: string) => routes[listId]!;

  it('leaves stale and refused changes out, keeps re-subscribes beside the import but out of its body', () => {
    const e = entry('a@example.com', { '1': 'add', '2': 'add', '3': 'remove', '4': 'add' });
    const plan = planBatch([e], route);
    assert.deepEqual(plan.entries, [e]);
    assert.deepEqual(
      [...e.lists.keys()].sort(),
      ['1', '2'],
      'the re-subscribe stays on the entry (its refs settle with it)',
    );
    assert.deepEqual(JSON.parse(e.json).subscribe, [{ listid: 1 }], 'only list 1 is imported');
    assert.equal(JSON.parse(e.json).unsubscribe, undefined);
    assert.deepEqual(
      plan.resubscribe.get('a@example.com')?.map((i) => [i.listId, i.window]),
      [['2', { from: 5_000, to: 9_000 }]],
    );
    assert.deepEqual(
      plan.stale.map((c) => c.refs),
      [['a@example.com/3']],
    );
    assert.deepEqual(
      plan.reentryOff.map((r) => r.listId),
      ['4'],
    );
    assert.deepEqual(plan.dropped, []);
  });

  it('drops an entry with nothing left to send, and sends an entry whose only change is a re-subscribe without lists', () => {
    const gone = entry('b@example.com', { '3': 'add' });
    const resub = entry('c@example.com', { '2': 'add' });
    const plan = planBatch([gone, resub], route);
    assert.deepEqual(plan.dropped, [gone]);
    assert.deepEqual(plan.entries, [resub]);
    assert.equal(JSON.parse(resub.json).subscribe, undefined);
  });

  it('serializes a formerly stripped entry in full when it is planned again as a plain import', () => {
    const e = entry('d@example.com', { '2': 'add' });
    planBatch([e], route);
    planBatch([e], () => ({ kind: 'import' }));
    assert.deepEqual(JSON.parse(e.json).subscribe, [{ listid: 2 }]);
  });
});

/** An account that answers the three re-entry calls from a script, and records the writes. */
function fakeApi(o: {
  contact?: string;
  lists?: { list: string; status: string; udate?: string }[];
  writes?: Verdict[];
}) {
  const writes: string[] = [];
  const answer = <T>(body: T, verdict: Verdict = { kind: 'ok' }): Answer<T> => ({
    status: verdict.kind === 'ok' ? 200 : 429,
    verdict,
    body,
    latencyMs: 1,
  });
  const script = [...(o.writes ?? [])];
  const api = {
    findContact: async (email: string) => answer({ contacts: o.contact ? [{ id: o.contact, email }] : [] }),
    memberships: async () => answer({ contactLists: o.lists ?? [] }),
    setListStatus: async (contact: string, list: string, status: number, sourceid?: number) => {
      const v = script.shift() ?? { kind: 'ok' };
      if (v.kind === 'ok') writes.push(`${contact}:${list}:${status}:${sourceid}`);
      return answer({}, v);
    },
  } as unknown as AcApi;
  return { api, writes };
}

async function run(job: ReentryJob<string>, api: AcApi) {
  const results: string[] = [];
  for (let i = 0; i < 20 && job.needsRequest(); i++) {
    const r = await job.step(api);
    if (r.kind === 'wait') results.push('wait');
  }
  return { waits: results.length, outcomes: job.result().map((o) => `${o.item.listId}:${o.result}`) };
}

/** A re-entry of `listId` undoing the service's unsubscribe sent at 10:00:00 and confirmed a minute later. */
const SENT = Date.parse('2026-11-28T10:00:00Z');
const item = (
  listId: string,
  window: ReentryItem<string>['window'] | null = { from: SENT - 5_000, to: SENT + 65_000 },
): ReentryItem<string> => ({
  listId,
  change: { op: 'add', occurredAt: 1, seq: 0, refs: [listId] } as ListChange<string>,
  ...(window ? { window } : {}),
});

describe('ReentryJob', () => {
  it('re-subscribes (status 1, sourceid 4) a list whose unsubscribe is the service own; one lookup and one read serve every list', async () => {
    const { api, writes } = fakeApi({
      contact: '42',
      lists: [
        { list: '1', status: '2', udate: '2026-11-28T10:00:02+00:00' },
        { list: '2', status: '2', udate: '2026-11-28T10:00:01+00:00' },
      ],
    });
    const got = await run(new ReentryJob('a@example.com', [item('1'), item('2')]), api);
    assert.deepEqual(got.outcomes, ['1:subscribed', '2:subscribed']);
    assert.deepEqual(writes, ['42:1:1:4', '42:2:1:4']);
  });

  it('keeps an unsubscribe dated before the service sent its own (an opt-out) and a bounce; writes nothing for an active list', async () => {
    const { api, writes } = fakeApi({
      contact: '42',
      lists: [
        { list: '1', status: '2', udate: '2026-11-28T09:00:00+00:00' },
        { list: '2', status: '3' },
        { list: '3', status: '1' },
      ],
    });
    const got = await run(new ReentryJob('a@example.com', [item('1'), item('2'), item('3')]), api);
    assert.deepEqual(got.outcomes, ['1:opted_out', '2:bounced', '3:already']);
    assert.deepEqual(writes, []);
  });

  it('keeps an unsubscribe dated after the window (the contact unsubscribed again since): no forced re-subscribe', async () => {
    const { api, writes } = fakeApi({
      contact: '42',
      lists: [{ list: '1', status: '2', udate: '2026-11-28T10:30:00+00:00' }],
    });
    assert.deepEqual((await run(new ReentryJob('a@example.com', [item('1')]), api)).outcomes, ['1:opted_out']);
    assert.deepEqual(writes, []);
  });

  it('never forces an unconfirmed membership (status 0) or a missing one to 1: they go by bulk import', async () => {
    const { api, writes } = fakeApi({ contact: '42', lists: [{ list: '1', status: '0' }] });
    assert.deepEqual((await run(new ReentryJob('a@example.com', [item('1'), item('2')]), api)).outcomes, [
      '1:import',
      '2:import',
    ]);
    assert.deepEqual(writes, []);
  });

  it('with no window of the service own (after a failed import), any unsubscribe is the contact own', async () => {
    const { api, writes } = fakeApi({
      contact: '42',
      lists: [
        { list: '1', status: '2', udate: '2026-11-28T10:00:02+00:00' },
        { list: '2', status: '1' },
      ],
    });
    assert.deepEqual((await run(new ReentryJob('a@example.com', [item('1', null), item('2', null)]), api)).outcomes, [
      '1:opted_out',
      '2:already',
    ]);
    assert.deepEqual(writes, []);
  });

  it('reports a contact the account no longer has as missing (it is imported instead)', async () => {
    const { api, writes } = fakeApi({});
    assert.deepEqual((await run(new ReentryJob('gone@example.com', [item('1')]), api)).outcomes, ['1:missing']);
    assert.deepEqual(writes, []);
  });

  it('waits on a 429 and repeats the same write; a refused write fails that list only', async () => {
    const { api, writes } = fakeApi({
      contact: '7',
      lists: [
        { list: '1', status: '2', udate: '2026-11-28T10:00:05+00:00' },
        { list: '2', status: '2', udate: '2026-11-28T10:00:05+00:00' },
      ],
      writes: [
        { kind: 'throttled', retryAfterMs: 100, code: 'RATE_LIMITED' },
        { kind: 'ok' },
        { kind: 'reject', code: 'REJECTED', message: 'HTTP 400' },
      ],
    });
    const got = await run(new ReentryJob('x@example.com', [item('1'), item('2')]), api);
    assert.equal(got.waits, 1);
    assert.deepEqual(got.outcomes, ['1:subscribed', '2:failed']);
    assert.deepEqual(writes, ['7:1:1:4']);
  });
});
