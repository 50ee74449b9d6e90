import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeReport } from '../support/drill-oracle.js';
import {
  FlappingStream,
  STEADY_FLAPS,
  poisonRecords,
  seededPairs,
  streamShape,
  type DrillEvent,
} from '../support/drill-stream.js';
import { DrillWorld, drillWorld } from '../support/drill-world.js';

/**
 * 503 storms: a flapping stream written steadily while ActiveCampaign answers a share of all requests (imports,
 * polls, lookups, membership reads) with 503 at random, and for a few seconds in the middle every request. Each
 * 503 is an account failure to the service (pause, back off, try again); none may lose a change, apply an older
 * one over a newer, or override an opt-out. The storm then ends and every list must end with the newest event
 * per (list, email).
 */
const segments = ['vip', 'newsletter', 'churn'];
const SECONDS = 30;
const PER_SECOND = 40;
const CONTACTS = 600;
/** The storm: from STORM_FROM to STORM_TO seconds into the stream, RATE of the requests get 503; all of them in the outage. */
const STORM_FROM = 4;
const STORM_TO = 24;
const RATE = 0.3;
const OUTAGE = new Set([12, 13, 14, 15]);

const w = drillWorld(segments, { timeScale: 10 });

test('503 storms: every list ends with the newest event per (list, email); opt-outs stay; nothing lost', async (t) => {
  const world = await DrillWorld.create(w, { name: 'drill-503-storm', partitions: 4 });
  const stream = new FlappingStream({ seed: 1801, prefix: 'st-', contacts: CONTACTS, segments, ...STEADY_FLAPS });
  await world.seedOptedOut(seededPairs(1802, 'st-', CONTACTS, [...world.listOf.values()], 30));
  const service = await world.start();
  await world.ready(service);
  t.after(() => world.control('/__sim/config', { errorRate503: 0, unavailable: false }));

  const written: DrillEvent[] = [];
  const begin = Date.now();
  for (let s = 0; s < SECONDS; s++) {
    if (s === STORM_FROM) await world.control('/__sim/config', { errorRate503: RATE });
    if (OUTAGE.has(s) && !OUTAGE.has(s - 1)) {
      // The random phase answered some 503s before the full outage begins.
      assert.ok(world.sim.snapshot().counters.unavailable503 > 0, 'the random 503s before the outage');
      await world.control('/__sim/config', { unavailable: true });
    }
    if (!OUTAGE.has(s) && OUTAGE.has(s - 1)) await world.control('/__sim/config', { unavailable: false });
    if (s === STORM_TO) await world.control('/__sim/config', { errorRate503: 0 });
    const batch = stream.next(PER_SECOND);
    written.push(...batch);
    await world.produce([...batch, ...(s % 10 === 0 ? poisonRecords('st-', 1, s) : [])]);
    // The workload's pace, not a wait for a condition: one batch per second of wall time.
    const due = begin + (s + 1) * 1_000 - Date.now();
    if (due > 0) await sleep(due);
  }
  const { counters } = world.sim.snapshot();
  t.diagnostic(`stream: ${JSON.stringify(streamShape(written))}; 503s answered: ${counters.unavailable503}`);
  await world.settled('the stream to settle after the storm', 240_000);
  const report = await world.verify();
  t.diagnostic(`counts: ${JSON.stringify(report.counts)}`);
  assert.equal(report.mismatches.length, 0, describeReport('503 storm', report));

  service.child.proc.kill('SIGTERM');
  assert.equal((await service.child.exited).code, 0, `a clean stop:\n${service.child.stderr.slice(-5).join('\n')}`);
});
