import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PIPELINE_TIME_SCALE } from '../../bench/phases/pipeline.js';
import { describeReport } from '../support/drill-oracle.js';
import { FlappingStream, poisonRecords, seededPairs, streamShape } from '../support/drill-stream.js';
import { DrillWorld, drillWorld } from '../support/drill-world.js';

/**
 * Issue 13, fast backfill: a large flapping stream with re-entries, all of it on the topic before the service
 * starts, read from the beginning with the budget lifted as in the benchmark's first step (time scale
 * PIPELINE_TIME_SCALE, simulator limits off). The buffer collapses a contact's add…remove history into its
 * final remove, so the first thing ActiveCampaign hears of many pairs is the service's own unsubscribe; later
 * events of the same pairs come after that import, as re-entries.
 */
const segments = ['vip', 'newsletter', 'churn', 'trial', 'beta'];
const CONTACTS = 3_000;
const EVENTS = 30_000;

const w = drillWorld(segments, { timeScale: PIPELINE_TIME_SCALE, limits: { enabled: false } });

test('fast backfill: every list ends with the newest event per (list, email); opt-outs stay; no wrong consent refusals', async (t) => {
  // maxPendingEvents at 5,000 (default 200,000) puts the pressure of a 300,000-event backfill on this smaller
  // one: fetching pauses, so a contact's history is split over several imports instead of collapsing into one.
  const config = { buffer: { lingerMs: 200, maxPendingEvents: 5_000 } };
  const world = await DrillWorld.create(w, { name: 'drill-backfill', partitions: 4, config });
  const stream = new FlappingStream({
    seed: 1311,
    prefix: 'bf-',
    contacts: CONTACTS,
    segments,
    unmapped: 0.02,
    firstRemove: 0.3,
    leave: 0.3,
    reenter: 0.5,
  });
  await world.seedOptedOut(seededPairs(1312, 'bf-', CONTACTS, [...world.listOf.values()], 60));
  const events = stream.next(EVENTS);
  t.diagnostic(`stream: ${JSON.stringify(streamShape(events))}`);
  await world.produce([...events, ...poisonRecords('bf-', 10)]);

  const service = await world.start();
  await world.settled('the backfill to settle');
  const report = await world.verify();
  t.diagnostic(`counts: ${JSON.stringify(report.counts)}`);
  assert.equal(report.mismatches.length, 0, describeReport('fast backfill', report));

  service.child.proc.kill('SIGTERM');
  assert.equal((await service.child.exited).code, 0, `a clean stop:\n${service.child.stderr.slice(-5).join('\n')}`);
});
