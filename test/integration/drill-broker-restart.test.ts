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
import { kafka } from '../support/harness.js';
import { ownBroker } from '../support/own-broker.js';

/**
 * Broker restarts: a flapping stream written steadily while the one broker the service uses stops and starts
 * under it twice, once gracefully and once killed (SIGTERM, then SIGKILL at once). The instance keeps running
 * through both, and every list ends with the newest event per (list, email), with no opt-out overridden.
 *
 * The broker is this file's own (own-broker.ts: the shared one must never stop). Everything of the world (admin,
 * readers, the service's config) reaches it through KAFKA_BROKERS, set before the world starts.
 */
const own = ownBroker(Number(process.env.KAFKA_RESTART_DRILL_PORT ?? 21492));

const segments = ['vip', 'newsletter', 'churn'];
const SECONDS = 36;
const PER_SECOND = 40;
const CONTACTS = 600;
/** When the broker goes down (seconds into the stream), and how: SIGTERM and a wait, or SIGKILL at once. */
const RESTARTS = new Map([
  [8, { how: 'graceful', killed: false }],
  [22, { how: 'killed', killed: true }],
]);
const DOWN_MS = 5_000;

let brokerUp = false;
const w = drillWorld(segments, { timeScale: 10 }, async () => {
  process.env.KAFKA_BROKERS = await own.start();
  brokerUp = true;
  w.defer(() => own.stop()); // only this file's broker
  return kafka();
});

test('broker restarts: every list ends with the newest event per (list, email); the instance runs on', {
  timeout: 12 * 60_000,
}, async (t) => {
  const world = await DrillWorld.create(w, {
    name: 'drill-broker-restart',
    partitions: 4,
    config: { shutdown: { deadlineMs: 20_000 } },
  });
  // A failure that left the broker down: started again when the test ends, so that the file's cleanup (its
  // readers, then the broker's stop) finds it up.
  w.defer(async () => {
    if (!brokerUp) await own.start().catch(() => undefined);
  });
  const stream = new FlappingStream({ seed: 1701, prefix: 'br-', contacts: CONTACTS, segments, ...STEADY_FLAPS });
  await world.seedOptedOut(seededPairs(1702, 'br-', CONTACTS, [...world.listOf.values()], 30));
  const service = await world.start();
  await world.ready(service);
  let exited = false;
  void service.child.exited.then(() => (exited = true));

  const written: DrillEvent[] = [];
  const begin = Date.now();
  /** Time spent on the outages (stop, down, start): the stream's schedule moves on by it. */
  let outages = 0;
  for (let s = 0; s < SECONDS; s++) {
    const restart = RESTARTS.get(s);
    if (restart) {
      const from = Date.now();
      brokerUp = false;
      await own.stop(restart.killed);
      assert.equal(await own.listening(), false, `the broker is down (${restart.how})`);
      t.diagnostic(`broker stopped (${restart.how}) at ${s} s`);
      // The outage's length, not a wait for a condition: the broker stays away this long.
      await sleep(DOWN_MS);
      await own.start();
      brokerUp = true;
      outages += Date.now() - from;
    }
    const batch = stream.next(PER_SECOND);
    written.push(...batch);
    await world.produce([...batch, ...(s % 12 === 0 ? poisonRecords('br-', 1, s) : [])]);
    // The workload's pace: one batch per second of wall time (the outages' time included).
    const due = begin + outages + (s + 1) * 1_000 - Date.now();
    if (due > 0) await sleep(due);
  }
  t.diagnostic(`stream: ${JSON.stringify(streamShape(written))}`);
  await world.settled('the stream to settle after the restarts', 240_000);
  assert.equal(
    exited,
    false,
    `the instance ran on through the restarts:\n${service.child.stderr.slice(-8).join('\n')}`,
  );
  const report = await world.verify();
  t.diagnostic(`counts: ${JSON.stringify(report.counts)}`);
  assert.equal(report.mismatches.length, 0, describeReport('broker restarts', report));

  service.child.proc.kill('SIGTERM');
  assert.equal((await service.child.exited).code, 0, `a clean stop:\n${service.child.stderr.slice(-5).join('\n')}`);
});
