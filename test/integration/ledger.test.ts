import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../src/config/schema.js';
import { CONSENT_OPTED_OUT, CONSENT_REENTRY_OFF } from '../../src/ledger/decide.js';
import { runToExit } from '../support/cli.js';
import {
  asSource,
  codeOf,
  consumed,
  emailIn,
  roundEvents,
  seedOptedOut,
  statuses,
  writes,
  type Group,
  type SourceEvent,
} from '../support/flapping.js';
import type { Service, TopicReader } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The membership ledger against the real broker and the simulator. Contacts flap (enter, leave, re-enter a
 * segment) round after round, each round settled before the next, so every change is its own flush window:
 * - vip: contacts re-subscribed after the service's own unsubscribe end subscribed; contacts seeded as opted out
 *   stay unsubscribed and every add of theirs is dead-lettered CONSENT_OPTED_OUT; zero forced re-subscribes.
 * - news (reentry: false): re-entries are dead-lettered CONSENT_REENTRY_OFF and the contacts stay unsubscribed.
 * - promo (onLeave: nothing): leaving is skipped and counted; the contacts stay subscribed.
 * After the run settles, re-publishing old events and replaying the dead letters changes nothing in the simulator,
 * and the stale counter rises by their number.
 */
const vip: Group = { name: 'vip', segmentId: 'vip', listId: '1', contacts: 24 };
const optedOut: Group = { name: 'optout', segmentId: 'vip', listId: '1', contacts: 6 };
const news: Group = { name: 'news', segmentId: 'news', listId: '2', contacts: 8 };
const promo: Group = { name: 'promo', segmentId: 'promo', listId: '3', contacts: 8 };
const groups = [vip, optedOut, news, promo];
const ROUNDS = 7;

const w = world({ simulator: { timeScale: 5, lists: ['1', '2', '3'].map((id) => ({ id, name: `L${id}` })) } });

const overrides = {
  exports: [
    { name: 'vip', segmentId: 'vip', connection: 'main', listId: '1' },
    { name: 'news', segmentId: 'news', connection: 'main', listId: '2', reentry: false },
    { name: 'promo', segmentId: 'promo', connection: 'main', listId: '3', onLeave: 'nothing' },
  ],
  buffer: { lingerMs: 200 },
};
const config = (topic: string) => w.config(topic, overrides, []);

/** Produces round after round, each settled (committed to the end) before the next; `between` runs after a round. */
async function flap(
  topic: string,
  cfg: Config,
  prefix: string,
  between?: (round: number) => Promise<void>,
): Promise<SourceEvent[]> {
  const all: SourceEvent[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const events = roundEvents(prefix, groups, round);
    all.push(...events);
    await w.produce(topic, events);
    await between?.(round);
    await w.committed(cfg, `round ${round} to settle`, 120_000);
  }
  return all;
}

/** The end state both properties ask for, and the dead letters that go with it. */
async function assertMembershipAndConsent(prefix: string, dlq: TopicReader, dlqTopic: string): Promise<void> {
  for (const [email, status] of statuses(w.sim, prefix, vip))
    assert.equal(status, 1, `${email} re-entered after the service's unsubscribe and is subscribed`);
  for (const [email, status] of statuses(w.sim, prefix, optedOut))
    assert.equal(status, 2, `${email} opted out and stays unsubscribed`);
  for (const [email, status] of statuses(w.sim, prefix, news))
    assert.equal(status, 2, `${email}: re-entry is off for news`);
  for (const [email, status] of statuses(w.sim, prefix, promo))
    assert.equal(status, 1, `${email}: leaving promo does nothing`);
  assert.equal(w.sim.snapshot().counters.forcedResubscribes, 0, 'no opted-out contact was re-subscribed by force');

  const adds = Math.ceil(ROUNDS / 2);
  const expected = optedOut.contacts * adds + news.contacts * (adds - 1);
  await w.drained(dlq, dlqTopic);
  const mine = dlq.records.filter((r) => emailIn(r).startsWith(prefix));
  const byCode = new Map<string, Set<string>>();
  for (const r of mine) byCode.set(codeOf(r)!, new Set([...(byCode.get(codeOf(r)!) ?? []), emailIn(r)]));
  assert.deepEqual(
    [...(byCode.get(CONSENT_OPTED_OUT) ?? [])].sort(),
    [...statuses(w.sim, prefix, optedOut).keys()].sort(),
    'every opted-out contact is dead-lettered with the consent code',
  );
  assert.deepEqual(
    [...(byCode.get(CONSENT_REENTRY_OFF) ?? [])].sort(),
    [...statuses(w.sim, prefix, news).keys()].sort(),
    'every news re-entry is dead-lettered as re-entry off',
  );
  assert.deepEqual(
    [...byCode.keys()].sort(),
    [CONSENT_OPTED_OUT, CONSENT_REENTRY_OFF],
    'nothing else is dead-lettered',
  );
  assert.ok(mine.length >= expected, `each refused add has its dead letter (${mine.length} of at least ${expected})`);
}

/** Re-publishes old events and the dead letters; nothing reaches the simulator and each one counts as stale. */
async function assertReplaysAreStale(
  topic: string,
  cfg: Config,
  events: SourceEvent[],
  dlq: TopicReader,
  prefix: string,
  stale: () => Promise<number>,
): Promise<void> {
  const before = await stale();
  const written = writes(w.sim);
  // Every 5th old event (removes of promo are skipped as leaves, not as stale: left out), then the dead letters.
  const sample = events.filter((e, i) => i % 5 === 0 && !(e.segmentId === 'promo' && e.op === 'remove'));
  const letters = dlq.records.filter((r) => emailIn(r).startsWith(prefix));
  await w.produce(topic, sample);
  await w.produce(topic, letters.map(asSource));
  await w.committed(cfg, 'the replayed events to settle', 120_000);
  assert.equal(
    (await stale()) - before,
    sample.length + letters.length,
    `each of ${sample.length} old events and ${letters.length} dead letters is skipped as stale`,
  );
  assert.equal(writes(w.sim), written, 'the replays changed nothing in the simulator');
}

test('flapping contacts end subscribed, opt-outs stand, and old events and dead-letter replays are stale', async (t) => {
  const topic = await w.topic('ledger', 3);
  const prefix = 'a-';
  seedOptedOut(w.sim, prefix, optedOut);
  const cfg = config(topic);
  const service = await w.start(cfg);
  const dlq = await w.reader(`${topic}.dlq`);
  const events = await flap(topic, cfg, prefix);
  await assertMembershipAndConsent(prefix, dlq, `${topic}.dlq`);
  assert.equal(
    await consumed(service.metrics, 'leave_ignored'),
    promo.contacts * Math.floor(ROUNDS / 2),
    'each promo leave is skipped and counted',
  );
  const resubscribed = (await service.metrics.resubscribes.get()).values
    .filter((v) => v.labels.result === 'subscribed')
    .reduce((n, v) => n + v.value, 0);
  assert.equal(
    resubscribed,
    vip.contacts * Math.floor(ROUNDS / 2),
    'each vip re-entry was a contactLists re-subscribe',
  );
  await assertReplaysAreStale(topic, cfg, events, dlq, prefix, () => consumed(service.metrics, 'stale'));
  const ledger = await w.admin.fetchTopicOffsets(`${topic}.ledger`);
  t.diagnostic(`ledger records written: ${ledger.reduce((n, p) => n + Number(p.high), 0)}`);

  // trace: why is the opted-out contact not on the list, and what happened to a flapping one?
  const file = w.configFile(topic, overrides, []);
  const opted = await runToExit(
    ['trace', '--email', `${prefix}optout0@example.com`, '--config', file, '--list', '1'],
    60_000,
  );
  assert.equal(opted.code, 0, opted.stderr.join('\n'));
  const optedText = opted.stdout.join('\n');
  assert.match(optedText, /list 1 \(exports vip\)/);
  assert.match(optedText, /ledger: not subscribed: the add was refused \(CONSENT_OPTED_OUT\)/);
  assert.equal(
    optedText.match(/dead-lettered: CONSENT_OPTED_OUT at confirm/g)?.length,
    Math.ceil(ROUNDS / 2),
    `each add dead-lettered:\n${optedText}`,
  );
  assert.doesNotMatch(optedText, /list 2|list 3/, '--list keeps to list 1');
  const flapping = await runToExit(
    ['trace', '--email', `${prefix}vip1@example.com`, '--config', file, '--json'],
    60_000,
  );
  const traced = JSON.parse(flapping.stdout.join('\n')) as {
    topics: { lines: { listId: string; ledger: { op: string }; events: { fate: string }[] }[] }[];
  };
  const vipLine = traced.topics[0]!.lines.find((l) => l.listId === '1')!;
  assert.equal(vipLine.ledger.op, 'add');
  assert.equal(
    vipLine.events.filter((e) => e.fate.startsWith('applied')).length >= 1,
    true,
    'the last change is the one the ledger holds',
  );
  assert.ok(
    vipLine.events.some((e) => e.fate.startsWith('superseded')),
    'older events (and their replays) are superseded',
  );
});

test('a second member joining mid-stream restores the ledger of the partitions it takes and keeps both properties', async () => {
  const topic = await w.topic('ledger-join', 4);
  const prefix = 'b-';
  seedOptedOut(w.sim, prefix, optedOut);
  const cfg = config(topic);
  const services: Service[] = [await w.start(cfg)];
  const dlq = await w.reader(`${topic}.dlq`);
  const events = await flap(topic, cfg, prefix, async (round) => {
    if (round !== 3) return;
    // Mid-stream: round 3 is produced and not settled; the second member joins and takes half the partitions.
    services.push(await w.start(cfg));
    await w.until(
      async () =>
        services.every((s) => s.pending() >= 0) &&
        (await w.admin.describeGroups([cfg.kafka.groupId])).groups[0]?.members.length === 2,
      'both members in the group',
      60_000,
    );
  });
  await w.until(
    () => services[1]!.metrics.ledgerEntries.get().then((m) => (m.values[0]?.value ?? 0) > 0),
    'the second member to hold restored ledger entries',
    30_000,
  );
  await assertMembershipAndConsent(prefix, dlq, `${topic}.dlq`);
  await assertReplaysAreStale(
    topic,
    cfg,
    events,
    dlq,
    prefix,
    async () => (await consumed(services[0]!.metrics, 'stale')) + (await consumed(services[1]!.metrics, 'stale')),
  );
});
