import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../src/dev/sample/events.js';
import { testConfig } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Issue 15, the cost of "a remove never creates a contact" (README "Lookup cost"), against the real broker and
 * the simulator: a backfill on a fresh ledger whose first event for most profiles is a leave. Each such leave is
 * of a contact the ledger does not know; looked up one by one they would cost one GET /contacts each. One read of
 * the list's members answers them: the test counts the simulator's GET /contacts requests, and the contacts it
 * created.
 */
const w = world({ simulator: false });

const base = Date.parse('2026-11-20T08:00:00Z'); // days before the run: every read covers these events
const event = (email: string, segmentId: string, op: 'add' | 'remove', at: number) => ({
  key: email,
  value: JSON.stringify({
    eventId: `e-${email}-${at}-${segmentId}`,
    occurredAt: new Date(at).toISOString(),
    segmentId,
    op,
    profile: { id: email.split('@')[0], email, firstName: 'F', phone: '+15550100' },
  }),
});

const cases = [
  { memberReadAfter: 100, contactsIdPaging: true, expect: 'one member read instead of a lookup each' },
  { memberReadAfter: 0, contactsIdPaging: true, expect: 'one lookup each' },
  // [UNCONFIRMED] paging by id beside listid: where it is not honoured, the probe is out of order and lookups answer.
  { memberReadAfter: 100, contactsIdPaging: false, expect: 'the probe fails, one lookup each' },
];
for (const { memberReadAfter, contactsIdPaging, expect } of cases) {
  test(`a backfill whose first events are mostly leaves, memberReadAfter ${memberReadAfter}, contactsIdPaging ${contactsIdPaging}: no contact created by a leave; ${expect}`, async (t) => {
    const s = await w.simulator({
      timeScale: 20,
      contactsIdPaging,
      lists: ['1', '2', '3'].map((id) => ({ id, name: `L${id}` })),
    });
    const members = Array.from({ length: 180 }, (_, i) => `member${i}@example.com`);
    for (const email of members) s.seedContact({ email, lists: { '1': 1 } });
    for (let i = 0; i < 20; i++) s.seedContact({ email: `other${i}@example.com`, lists: { '2': 1 } }); // contacts, not on list 1
    const strangers = Array.from({ length: 500 }, (_, i) => `stranger${i}@example.com`); // never in ActiveCampaign
    const joiners = Array.from({ length: 100 }, (_, i) => `joiner${i}@example.com`);
    const leavers = [
      ...strangers,
      ...members.slice(0, 120),
      ...Array.from({ length: 20 }, (_, i) => `other${i}@example.com`),
    ];
    const rand = mulberry32(1515);
    const events = [
      ...leavers.map((e) => ({ e, op: 'remove' as const })),
      ...joiners.map((e) => ({ e, op: 'add' as const })),
    ]
      .map((x) => ({ ...x, k: rand() }))
      .sort((a, b) => a.k - b.k)
      .map((x, i) => event(x.e, 'vip', x.op, base + i * 1_000));
    const topic = await w.topic('lookup-cost', 3);
    await w.produce(topic, events);
    const created = s.snapshot().counters.contactsCreated.byApi;
    // GET /contacts is counted for the removes alone: the contact-id lookups of new profiles (email changes) are off.
    const config = testConfig(topic, s, ['vip', 'news', 'promo'], {
      delivery: { timeScale: 20, pollIntervalMs: 500, memberReadAfter, profileLookupsPerSecond: 0 },
    });
    const service = await w.start(config);
    await w.committed(service, 'the backfill to settle');
    const snap = s.snapshot();
    assert.equal(
      snap.counters.contactsCreated.byApi - created,
      joiners.length,
      'only the joins created contacts; no leave did',
    );
    for (const email of strangers)
      assert.equal(snap.lists['1']!.members[email], undefined, `${email} is not on the list`);
    for (const email of members.slice(0, 120))
      assert.equal(snap.lists['1']!.members[email]?.status, 2, `${email}, a member, was unsubscribed`);
    for (const email of members.slice(120)) assert.equal(snap.lists['1']!.members[email]?.status, 1, `${email} stays`);
    for (const email of joiners) assert.equal(snap.lists['1']!.members[email]?.status, 1, `${email} joined`);
    const gets = snap.counters.byEndpoint['GET /contacts'] ?? 0;
    const unknown = leavers.length; // none of them is known to the fresh ledger
    t.diagnostic(`GET /contacts: ${gets} for ${unknown} unknown leaves; requests in all: ${snap.counters.requests}`);
    if (memberReadAfter && contactsIdPaging) {
      // A probe and one page for 180 members, and the lookups made before the read began.
      assert.ok(
        gets < unknown / 5,
        `${gets} GET /contacts for ${unknown} unknown leaves (a lookup each would be ${unknown})`,
      );
    } else {
      // One lookup per unknown leave, and the probe that failed (again once the failed read is forgotten, 30 s at
      // this time scale); a lookup told to wait by a 429 asks again.
      const least = unknown + (memberReadAfter ? 1 : 0);
      assert.ok(
        gets >= least && gets <= least + (memberReadAfter ? 1 : 0) + snap.counters.rateLimited429,
        `${gets} GET /contacts for ${unknown} unknown leaves`,
      );
    }
  });
}
