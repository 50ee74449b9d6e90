import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PIPELINE_TIME_SCALE } from '../../bench/phases/pipeline.js';
import { mulberry32 } from '../../src/dev/sample/events.js';
import { describeReport } from '../support/drill-oracle.js';
import { FlappingStream, poisonRecords, streamShape } from '../support/drill-stream.js';
import { DrillWorld, drillWorld, OWN_ACTION_GAP_MS } from '../support/drill-world.js';
import { eventually } from '../support/harness.js';

/**
 * Issue 13, re-entry after a backfill: a flapping backfill settles. Then some of the people the service
 * unsubscribed re-subscribe through a form and unsubscribe themselves; then every one of the people picked
 * re-enters their segment. Those who unsubscribed themselves stay out; all the others come back.
 */
const segments = ['vip', 'newsletter', 'churn'];
const CONTACTS = 1_500;
const PICKED = 60;

const w = drillWorld(segments, { timeScale: PIPELINE_TIME_SCALE, limits: { enabled: false } });

test('re-entry after a backfill: own unsubscribes stay, the service’s own are reversed', async (t) => {
  const world = await DrillWorld.create(w, { name: 'drill-reentry', partitions: 3 });
  const stream = new FlappingStream({
    seed: 1341,
    prefix: 're-',
    contacts: CONTACTS,
    segments,
    unmapped: 0.02,
    firstRemove: 0.35,
    leave: 0.35,
    reenter: 0.5,
  });
  const backfill = stream.next(12_000);
  t.diagnostic(`backfill: ${JSON.stringify(streamShape(backfill))}`);
  await world.produce([...backfill, ...poisonRecords('re-', 5)]);
  const service = await world.start();
  await world.settled('the backfill to settle');
  const settledAt = Date.now();

  // The people the service unsubscribed: the newest event of the pair is a remove and the list shows 2.
  const oracle = await world.oracle();
  const lists = world.sim.snapshot().lists;
  const unsubscribed = [...oracle.expected].filter(([pair, want]) => {
    const [listId, email] = pair.split('\u0000') as [string, string];
    return want === 'out' && lists[listId]?.members[email]?.status === 2;
  });
  assert.ok(
    unsubscribed.length >= PICKED,
    `the backfill left at least ${PICKED} people unsubscribed by the service (${unsubscribed.length})`,
  );
  const rand = mulberry32(1342);
  const picked = unsubscribed.filter((_, _i, all) => rand() < (PICKED * 1.5) / all.length).slice(0, PICKED);
  assert.equal(picked.length, PICKED, 'enough people picked');
  const segmentOf = new Map([...world.listOf].map(([s, l]) => [l, s]));
  const people = picked.map(([pair]) => {
    const [listId, email] = pair.split('\u0000') as [string, string];
    return { pair, listId, email, segmentId: segmentOf.get(listId)! };
  });
  const own = people.slice(0, PICKED / 2);
  const others = people.slice(PICKED / 2);

  // People act later than the service's last confirmation, as people do: outside the window in which their
  // unsubscribe could not be told from the service's own (see OWN_ACTION_GAP_MS).
  await eventually(
    () => Date.now() > settledAt + OWN_ACTION_GAP_MS,
    'the people to act after the backfill settled',
    OWN_ACTION_GAP_MS + 5_000,
    100,
  );
  const routes = new Set<string>();
  for (const p of own) {
    routes.add(await world.personAction(p.email, p.listId, 1, 'form'));
    routes.add(await world.personAction(p.email, p.listId, 2, 'person'));
    const newest = Math.max(
      ...backfill.filter((e) => e.email === p.email && e.segmentId === p.segmentId).map((e) => e.occurredAt),
    );
    world.optedOut.set(p.pair, newest);
  }
  if (routes.has('contacts'))
    t.diagnostic('the simulator has no POST /__sim/membership yet: the people acted through POST /__sim/contacts');

  await world.produce(stream.reentries(people));
  await world.settled('the re-entries to settle');
  const after = world.sim.snapshot().lists;
  const statusOf = (p: { listId: string; email: string }) => after[p.listId]?.members[p.email]?.status;
  const stayedOut = own.filter((p) => statusOf(p) === 2).length;
  const cameBack = others.filter((p) => statusOf(p) === 1).length;
  t.diagnostic(
    `of ${own.length} who unsubscribed themselves ${stayedOut} stayed out; of ${others.length} others ${cameBack} came back`,
  );

  const report = await world.verify();
  t.diagnostic(`counts: ${JSON.stringify(report.counts)}`);
  assert.ok(
    report.mismatches.length === 0 && stayedOut === own.length && cameBack === others.length,
    [
      `re-entry: ${stayedOut} of ${own.length} who unsubscribed themselves stayed out, ${cameBack} of ${others.length} others came back`,
      describeReport('end state', report),
    ].join('\n'),
  );

  service.child.proc.kill('SIGTERM');
  assert.equal((await service.child.exited).code, 0, `a clean stop:\n${service.child.stderr.slice(-5).join('\n')}`);
});
