import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { membershipDiff } from '../../src/dev/sample/events.js';
import { testConfig } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Delivery against the simulator with ActiveCampaign's real limits, time-scaled by 5. The simulator runs in the
 * test's own event loop, so a request can reach its handler later than it was sent; it forgives 100 ms of such
 * jitter when it counts violations (toleranceMs; see packages/ac-simulator/src/rate-limit.ts).
 */
const SCALE = 5;
const limits = { toleranceMs: 100 };
const w = world({ simulator: false });

const event = (i: number, email: string, op: 'add' | 'remove', segmentId = 's1', at = i) => ({
  key: email,
  value: JSON.stringify({
    eventId: `e${i}`,
    occurredAt: new Date(Date.parse('2026-01-01T00:00:00Z') + at).toISOString(),
    segmentId,
    op,
    profile: { id: email, email },
  }),
});

test('after the first 429, no request exceeds the limits or arrives before its Retry-After elapses', async () => {
  const sim = await w.simulator({ timeScale: SCALE, limits, lists: [{ id: '1', name: 'L1' }] });
  const topic = await w.topic('throttle', 2);
  const expected = await w.produceSample(topic, { events: 30_000, profiles: 25_000, segments: ['s1'], removeRatio: 0 });
  const service = await w.start(testConfig(topic, sim, ['s1']));
  // Mid-stream, another integration takes almost the whole account for a moment: we get a 429.
  await w.until(() => sim.snapshot().counters.importsAccepted >= 3, 'imports to flow', 60_000, 20);
  sim.configure({ limits: { requestsPerSecond: 0.2, burst: 1 } });
  await w.until(() => sim.snapshot().counters.rateLimited429 >= 1, 'the first 429', 30_000, 2);
  sim.configure({ limits: { requestsPerSecond: 5, burst: 5 } });
  await w.until(
    () =>
      membershipDiff(
        expected,
        () => '1',
        (id) => sim.snapshot().lists[id]?.members ?? {},
      ).length === 0,
    'membership',
    180_000,
  );
  const c = sim.snapshot().counters;
  assert.equal(
    c.violations,
    0,
    `requests over the limits or before Retry-After after the first 429: ${JSON.stringify(c)}`,
  );
  assert.equal(c.bulkRateLimited400, 0);
  assert.ok(service.metrics.registry.getSingleMetric('ac_list_sync_api_throttled_total') !== undefined);
});

test('a stream in which 40% of events are superseded sends exactly the distinct final states', async () => {
  const sim = await w.simulator({ timeScale: SCALE, limits, lists: [{ id: '1', name: 'L1' }] });
  const topic = await w.topic('supersede');
  // 6,000 contacts; 4,000 more events change 2,000 of them again (add → remove, remove → add, repeats).
  const messages = [];
  for (let i = 0; i < 6_000; i++) messages.push(event(i, `c${i}@example.com`, 'add'));
  for (let i = 0; i < 4_000; i++)
    messages.push(event(6_000 + i, `c${i % 2_000}@example.com`, i % 2 === 0 ? 'remove' : 'add'));
  await w.produce(topic, messages);
  const service = await w.start(testConfig(topic, sim, ['s1'], { buffer: { lingerMs: 3_000 } }));
  await w.until(
    () => service.totals().delivered + service.totals().skipped === 10_000 && service.pending() === 0,
    'every event settled',
    120_000,
  );
  const snap = sim.snapshot();
  // Issue 15: the 1,000 contacts whose final state is a remove were never in ActiveCampaign: looked up, not created.
  assert.equal(
    snap.counters.contactsImported,
    5_000,
    'one contact entry per distinct final state, none for superseded events nor for removes of contacts AC never had',
  );
  const members = snap.lists['1']!.members;
  // c0, c2, … c1998 ended with a remove; the other 5,000 are subscribed.
  assert.equal(Object.values(members).filter((m) => m.status === 1).length, 5_000);
  assert.equal(members['c1999@example.com']?.status, 1);
  assert.equal(members['c0@example.com'], undefined, 'added and removed before anything was sent: never created');
});

test('100,000 events over 5 lists end in the expected membership; a backlog fills imports to ≥ 245 contacts on average', async () => {
  const segments = ['a', 'b', 'c', 'd', 'e'];
  const sim = await w.simulator({
    timeScale: SCALE,
    limits,
    lists: segments.map((_, i) => ({ id: String(i + 1), name: `L${i + 1}` })),
  });
  const topic = await w.topic('hundredk', 3);
  const expected = await w.produceSample(topic, { events: 100_000, profiles: 20_000, segments, removeRatio: 0.3 });
  // A backlog that the import budget holds back (20 imports in any 60 s, scaled ×5): the window's burst goes to
  // full imports and partial ones keep to its even pace, so imports fill. With budget to spare, the sliding
  // window sends a partial import once its oldest change has lingered (lower latency, more imports).
  const config = testConfig(topic, sim, segments, {
    connections: {
      main: {
        apiUrl: sim.url,
        apiKey: { value: sim.options.apiToken },
        privacyAcknowledged: true,
        importsPerMinute: 20,
      },
    },
  });
  const service = await w.start(config);
  await w.membership(expected, 'membership of 5 lists', { sim, segments, timeoutMs: 240_000, everyMs: 1_000 });
  await w.committed(config, 'offsets at the end');
  const c = sim.snapshot().counters;
  const average = c.contactsImported / c.importsAccepted;
  assert.ok(
    average >= 245,
    `average contacts per import during the backlog: ${average.toFixed(1)} (${c.importsAccepted} imports)`,
  );
  assert.equal(c.violations, 0, JSON.stringify(c));
  assert.equal(service.totals().deadLettered, 0);
});

test('invalid emails and contacts who opted out end in the dead-letter topic with their reasons', async () => {
  const sim = await w.simulator({ timeScale: SCALE, limits, lists: [{ id: '1', name: 'L1' }] });
  for (let i = 0; i < 5; i++) sim.seedContact({ email: `optout${i}@example.com`, lists: { '1': 2 } });
  const topic = await w.topic('consent');
  const messages = [];
  for (let i = 0; i < 200; i++) messages.push(event(i, `ok${i}@example.com`, 'add'));
  for (let i = 0; i < 5; i++) messages.push(event(300 + i, `optout${i}@example.com`, 'add'));
  for (let i = 0; i < 3; i++) messages.push(event(400 + i, `bad${i}@nodomain`, 'add'));
  await w.produce(topic, messages);
  const config = testConfig(topic, sim, ['s1']);
  await w.start(config);
  const dead = await w.deadLetters(topic, 8);
  const byCode = new Map<string, string[]>();
  for (const r of dead)
    byCode.set(r.headers[DLQ_HEADERS.code]!, [...(byCode.get(r.headers[DLQ_HEADERS.code]!) ?? []), r.key ?? '']);
  assert.deepEqual(
    byCode.get('CONSENT_OPTED_OUT')?.sort(),
    [0, 1, 2, 3, 4].map((i) => `optout${i}@example.com`),
  );
  assert.deepEqual(
    byCode.get('INVALID_EVENT')?.sort(),
    [0, 1, 2].map((i) => `bad${i}@nodomain`),
  );
  const consent = dead.find((r) => r.headers[DLQ_HEADERS.code] === 'CONSENT_OPTED_OUT')!;
  assert.equal(consent.headers[DLQ_HEADERS.stage], 'confirm');
  assert.match(consent.headers[DLQ_HEADERS.message]!, /unsubscribed/);
  await w.committed(config, 'offsets at the end');
  const members = sim.snapshot().lists['1']!.members;
  assert.equal(members['optout0@example.com']?.status, 2, 'an opted-out contact stays unsubscribed');
  assert.equal(members['ok199@example.com']?.status, 1);
  assert.equal(sim.snapshot().counters.forcedResubscribes, 0);
});
