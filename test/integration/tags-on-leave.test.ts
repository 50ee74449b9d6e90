import assert from 'node:assert/strict';
import { test } from 'node:test';
import { world } from '../support/world.js';

/**
 * exports.removeTagsOnLeave against the real broker and the simulator: a leave removes its export's tags, a tag
 * another export still gives stays, and an export without the setting (the default) keeps its tags on a leave.
 */
const w = world({ simulator: { timeScale: 20, lists: ['1', '2', '3'].map((id) => ({ id, name: `L${id}` })) } });

let clock = Date.parse('2026-11-28T12:00:00Z');
const event = (email: string, segmentId: string, op: 'add' | 'remove') => {
  const occurredAt = (clock += 1_000);
  return {
    key: email,
    value: JSON.stringify({
      eventId: `e-${email}-${occurredAt}`,
      occurredAt: new Date(occurredAt).toISOString(),
      segmentId,
      op,
      profile: { id: email.split('@')[0], email },
    }),
  };
};

test('a leave removes its export’s tags; a tag another export still gives stays; without the setting tags stay', async () => {
  const topic = await w.topic('untag', 2);
  const exports = [
    {
      name: 'vip',
      segmentId: 'vip',
      connection: 'main',
      listId: '1',
      tags: ['segment:vip', 'shared'],
      removeTagsOnLeave: true,
    },
    { name: 'news', segmentId: 'news', connection: 'main', listId: '2', tags: ['segment:news', 'shared'] },
    { name: 'promo', segmentId: 'promo', connection: 'main', listId: '3', tags: ['segment:promo'] },
  ];
  const config = w.config(topic, { exports }, []);
  await w.start(config);
  const settle = () => w.committed(config, 'every event to settle');
  // ann: vip only. bob: vip and news (news gives "shared" too). cat: vip and promo. dan: news only.
  await w.produce(topic, [
    event('ann@example.com', 'vip', 'add'),
    event('bob@example.com', 'vip', 'add'),
    event('bob@example.com', 'news', 'add'),
    event('cat@example.com', 'vip', 'add'),
    event('cat@example.com', 'promo', 'add'),
    event('dan@example.com', 'news', 'add'),
  ]);
  await settle();
  assert.deepEqual(w.sim.snapshot().tags, {
    'ann@example.com': ['segment:vip', 'shared'],
    'bob@example.com': ['segment:news', 'segment:vip', 'shared'],
    'cat@example.com': ['segment:promo', 'segment:vip', 'shared'],
    'dan@example.com': ['segment:news', 'shared'],
  });
  const before_ = w.sim.snapshot().counters.byEndpoint;
  await w.produce(topic, [
    event('ann@example.com', 'vip', 'remove'),
    event('bob@example.com', 'vip', 'remove'),
    event('cat@example.com', 'vip', 'remove'),
    event('cat@example.com', 'promo', 'remove'),
    event('dan@example.com', 'news', 'remove'),
  ]);
  await settle();
  const expected = {
    'bob@example.com': ['segment:news', 'shared'], // "shared" is still news's
    'cat@example.com': ['segment:promo'], // promo keeps its tags on a leave (the default)
    'dan@example.com': ['segment:news', 'shared'], // news keeps its tags on a leave
  };
  // The tag removals follow the confirmed leaves (the events settle at confirmation): wait for them.
  const tagsNow = () => JSON.stringify(Object.entries(w.sim.snapshot().tags).sort(([a], [b]) => a.localeCompare(b)));
  await w.until(
    () => tagsNow() === JSON.stringify(Object.entries(expected)),
    `tags ${JSON.stringify(expected)}, have ${tagsNow()}`,
    60_000,
  );
  const lists = w.sim.snapshot().lists;
  for (const [email, list] of [
    ['ann@example.com', '1'],
    ['bob@example.com', '1'],
    ['cat@example.com', '1'],
    ['cat@example.com', '3'],
    ['dan@example.com', '2'],
  ] as const) {
    assert.equal(lists[list]?.members[email]?.status, 2, `${email} unsubscribed from list ${list}`);
  }
  // The cost: 3 leaves of vip, each 2 requests (the contact, its tags), plus one DELETE per tag removed (ann 2, bob 1, cat 2) and
  // one GET /tags per tag name (2, once each for the run).
  const after_ = w.sim.snapshot().counters.byEndpoint;
  const spent = (endpoint: string) => (after_[endpoint] ?? 0) - (before_[endpoint] ?? 0);
  assert.equal(spent('GET /contacts/{id}/contactTags'), 3);
  assert.equal(spent('DELETE /contactTags/{id}'), 5);
  assert.equal(spent('GET /tags'), 2);
  const windows = w.sim.snapshot().counters.importWindows;
  assert.equal(windows.overAll + windows.overSingle, 0);
});
