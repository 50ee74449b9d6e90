import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFrom } from '../../src/replay/from.js';
import { runReplay } from '../../src/replay/run.js';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { runToExit, writeConfig } from '../support/cli.js';
import { PersonHasher } from '../../src/ledger/erasure.js';
import { decodeProfile, isProfileKey, profileKey } from '../../src/ledger/profiles.js';
import { quietLog, rawConfig, testConfig, type Service, type Simulator } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Issue 18 against the real broker and the simulator: an erasure request (`op: "erase"`) deletes the person's
 * contact, a replay of their older events does not bring it back, an import in the air is not overtaken by the
 * delete, and a change occurring after the erasure subscribes the person again.
 */
const w = world({ simulator: false });
const sim = (options: Record<string, unknown> = {}): Promise<Simulator> =>
  w.simulator({ timeScale: 20, limits: { enabled: false }, lists: [{ id: '1', name: 'L1' }], ...options });

const T0 = Date.parse('2026-11-28T10:00:00Z');
/** An event of profile `id` (the record key, as upstream keys them) at T0 + `at` seconds. */
const event = (email: string, op: 'add' | 'remove' | 'erase', at: number, id = email.split('@')[0]!) => ({
  key: id,
  value: JSON.stringify({
    eventId: `e-${id}-${op}-${at}`,
    occurredAt: new Date(T0 + at * 1000).toISOString(),
    segmentId: 'vip',
    op,
    profile: { id, email },
  }),
});

const member = (s: Simulator, email: string) => s.snapshot().lists['1']!.members[email];
/** A counter's value on the line holding `label` (0 when there is none). */
const metric = async (service: Service, name: string, label: string) => {
  const text = await service.metrics.registry.getSingleMetricAsString(name);
  const line = text.split('\n').find((l) => l.includes(label));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

test('an erased person disappears from ActiveCampaign; a replay from earliest does not bring them back; a later event subscribes them again', async () => {
  const s = await sim();
  const topic = await w.topic('erase');
  const base = testConfig(topic, s, ['vip']);
  // A replay needs a share of the budget kept for it (README, Replays and backfills).
  const config = { ...base, connections: { main: { ...base.connections.main!, replayShare: 0.5 } } };
  const settled = () => w.committed(config, 'every event to settle');
  const service = await w.start(config);
  await w.produce(topic, [event('ann@example.com', 'add', 1), event('bob@example.com', 'add', 1)]);
  await w.until(
    () => member(s, 'ann@example.com')?.status === 1 && member(s, 'bob@example.com')?.status === 1,
    'both subscribed',
  );
  // Both contact ids are recorded for email changes (profile records) before the erasure comes.
  const live = await w.reader(`${topic}.ledger`);
  await w.until(
    () =>
      live.records.filter((r) => isProfileKey(r.key?.toString() ?? '') && r.value && decodeProfile(r.value)?.contactId)
        .length === 2,
    'both profile records',
  );
  await live.stop();
  // The erasure, then an add that occurred before it (a late or re-published event): it must not re-create Ann.
  // Zed was never in the account: his erasure is done all the same.
  await w.produce(topic, [
    event('ann@example.com', 'erase', 2),
    event('ann@example.com', 'add', 1.5),
    event('zed@example.com', 'erase', 2),
  ]);
  await settled();
  assert.equal(
    await metric(service, 'ac_list_sync_erasures_total', 'result="absent"'),
    1,
    "Zed's erasure is done: the account never had him",
  );
  assert.equal(await metric(service, 'ac_list_sync_erasures_total', 'result="deleted"'), 1);
  assert.equal(member(s, 'ann@example.com'), undefined, 'Ann is gone from the list');
  assert.equal(s.snapshot().counters.contactsDeleted, 1);
  assert.equal(member(s, 'bob@example.com')?.status, 1, 'nobody else is touched');
  assert.equal(
    await metric(service, 'ac_list_sync_events_consumed_total', 'result="suppressed"'),
    1,
    'the older add was skipped and counted',
  );
  await service.stop();
  // The ledger: Ann's key is tombstoned; the markers (intent, then done, for Ann and Zed) hold no raw email.
  const ledger = await w.read(`${topic}.ledger`, 11);
  const markers = ledger.filter((r) => r.key?.includes('\u0000erased\u0000'));
  assert.equal(markers.length, 4);
  for (const r of markers)
    assert.ok(!r.key!.includes('example.com') && !r.value!.toString().includes('example.com'), 'no email in a marker');
  assert.ok(
    ledger.some((r) => r.key === `main\u00001\u0000ann@example.com` && r.value === null),
    "a tombstone for Ann's key",
  );
  const annProfile = profileKey(new PersonHasher(), 'main', 'ann');
  assert.ok(
    ledger.some((r) => r.key === annProfile && r.value === null),
    "a tombstone for Ann's profile record (her email-change mapping)",
  );
  assert.ok(
    !ledger.some((r) => r.key === profileKey(new PersonHasher(), 'main', 'bob') && r.value === null),
    "Bob's stays",
  );

  // Every event again, from the earliest offset: the ledger's suppression marker keeps Ann's older add out.
  const replay = await runReplay(config, { from: parseFrom('earliest'), log: quietLog() });
  assert.equal(replay.exitCode, 0);
  assert.equal(member(s, 'ann@example.com'), undefined, 'the replay did not bring Ann back');
  assert.equal(s.snapshot().contacts, 1, 'only Bob is in the account');

  // A change occurring after the erasure is a new consent: it goes through.
  await w.start(config);
  await w.produce(topic, [event('ann@example.com', 'add', 3)]);
  await settled();
  assert.equal(member(s, 'ann@example.com')?.status, 1, 'Ann subscribed again by a newer event');
});

test('an erasure arriving while an import for the person is in the air waits for it: the contact is not re-created', async () => {
  // Imports stay active for 40 s of simulated time (2 s at scale 20): long enough for the erasure to arrive meanwhile.
  const s = await sim({ importDelaysMs: { active: 40_000 } });
  const topic = await w.topic('erase-inflight');
  const config = testConfig(topic, s, ['vip']);
  await w.start(config);
  await w.produce(topic, [event('cy@example.com', 'add', 1), event('dee@example.com', 'add', 1)]);
  await w.until(() => s.snapshot().counters.importsAccepted >= 1, 'the import to be accepted', 60_000, 20);
  assert.equal(member(s, 'cy@example.com'), undefined, 'the import is still in the air when the erasure is produced');
  await w.produce(topic, [event('cy@example.com', 'erase', 2)]);
  await w.committed(config, 'every event to settle');
  assert.equal(member(s, 'cy@example.com'), undefined, 'the contact was deleted after the import applied, not before');
  assert.equal(s.snapshot().counters.contactsDeleted, 1);
  assert.equal(member(s, 'dee@example.com')?.status, 1);
});

test('a refused delete is dead-lettered with its reason; dlq replay retries it, and the erasure is then done', async () => {
  const s = await sim({ refuseDeletes: true });
  const topic = await w.topic('erase-refused');
  const config = testConfig(topic, s, ['vip']);
  const service = await w.start(config);
  await w.produce(topic, [event('eve@example.com', 'add', 1)]);
  await w.until(() => member(s, 'eve@example.com')?.status === 1, 'Eve subscribed');
  await w.produce(topic, [event('eve@example.com', 'erase', 2)]);
  const [letter] = await w.deadLetters(topic, 1);
  assert.equal(letter!.headers[DLQ_HEADERS.code], 'ERASE_REFUSED');
  assert.match(letter!.headers[DLQ_HEADERS.message]!, /403.*delete/);
  await w.committed(config, 'the erasure to settle as dead-lettered');
  assert.equal(member(s, 'eve@example.com')?.status, 1, 'nothing was deleted');
  assert.equal(await metric(service, 'ac_list_sync_erasures_total', 'result="refused"'), 1);

  // The account is fixed (the permission granted): dlq replay re-publishes the erasure, and it runs again.
  s.configure({ refuseDeletes: false });
  const replay = await runToExit(
    ['dlq', 'replay', '--config', writeConfig(rawConfig(topic, s, ['vip'])), '--code', 'ERASE_REFUSED'],
    60_000,
  );
  assert.equal(replay.code, 0, replay.stderr.join('\n'));
  await w.until(() => member(s, 'eve@example.com') === undefined, 'Eve deleted by the replayed erasure');
  await w.committed(config, 'the replayed erasure to settle');
  assert.equal(s.snapshot().counters.contactsDeleted, 1);
  assert.equal(await metric(service, 'ac_list_sync_erasures_total', 'result="deleted"'), 1);
});
