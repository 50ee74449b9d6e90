import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { describeReport } from '../support/drill-oracle.js';
import { FlappingStream, poisonRecords, seededPairs, streamShape, type DrillEvent } from '../support/drill-stream.js';
import { DrillWorld, drillWorld } from '../support/drill-world.js';

/**
 * Issue 13, trickle: a flapping stream in which many (list, person) pairs start with a remove, written steadily
 * for a minute while one instance runs, no fault. The near-real-time case the issue saw fail: a person whose
 * first event on a list is a remove is unsubscribed by the service, and must come back when they re-enter.
 */
const segments = ['vip', 'newsletter', 'churn', 'trial'];
const SECONDS = 60;
const PER_SECOND = 60;
const CONTACTS = 1_000;

const w = drillWorld(segments, { timeScale: 10 });

test('trickle: every list ends with the newest event per (list, email); opt-outs stay; no wrong consent refusals', async (t) => {
  const world = await DrillWorld.create(w, { name: 'drill-trickle', partitions: 4 });
  const stream = new FlappingStream({
    seed: 1301,
    prefix: 'tr-',
    contacts: CONTACTS,
    segments,
    unmapped: 0.05,
    firstRemove: 0.5,
    leave: 0.45,
    reenter: 0.55,
  });
  await world.seedOptedOut(seededPairs(1302, 'tr-', CONTACTS, [...world.listOf.values()], 40));
  const service = await world.start();
  await world.ready(service);

  const written: DrillEvent[] = [];
  const begin = Date.now();
  for (let s = 0; s < SECONDS; s++) {
    const batch = stream.next(PER_SECOND);
    written.push(...batch);
    await world.produce([...batch, ...(s % 10 === 0 ? poisonRecords('tr-', 1, s) : [])]);
    // The workload's pace, not a wait for a condition: one batch per second of wall time.
    const due = begin + (s + 1) * 1_000 - Date.now();
    if (due > 0) await sleep(due);
  }
  t.diagnostic(`stream: ${JSON.stringify(streamShape(written))}`);
  await world.settled('the trickle to settle');
  const report = await world.verify();
  t.diagnostic(`counts: ${JSON.stringify(report.counts)}`);
  assert.equal(report.mismatches.length, 0, describeReport('trickle', report));

  service.child.proc.kill('SIGTERM');
  assert.equal((await service.child.exited).code, 0, `a clean stop:\n${service.child.stderr.slice(-5).join('\n')}`);
});
