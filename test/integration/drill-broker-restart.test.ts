import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describeReport } from '../support/drill-oracle.js';
import { FlappingStream, poisonRecords, seededPairs, streamShape, type DrillEvent } from '../support/drill-stream.js';
import { DrillWorld, drillWorld } from '../support/drill-world.js';
import { kafka } from '../support/harness.js';

/**
 * Broker restarts: a flapping stream written steadily while the one broker the service uses stops and starts
 * under it twice, once gracefully and once killed (SIGTERM, then SIGKILL at once). The instance keeps running
 * through both, and every list ends with the newest event per (list, email), with no opt-out overridden.
 *
 * The broker is this file's own (as readiness-broker's: the shared one must never stop), on a port below Linux's
 * ephemeral range; the test runner runs one file at a time. Everything of the world (admin, readers, the
 * service's config) reaches it through KAFKA_BROKERS, set before the world starts.
 */
const run = promisify(execFile);
const script = fileURLToPath(new URL('../../../scripts/kafka-local.sh', import.meta.url));
const env = {
  ...process.env,
  KAFKA_LOCAL_PORT: process.env.KAFKA_RESTART_DRILL_PORT ?? '21492',
  KAFKA_HEAP_OPTS: '-Xmx384m -Xms128m',
};
/** Whether anything accepts a connection on the broker's port (refused: it is really down). */
const listening = (): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(Number(env.KAFKA_LOCAL_PORT), '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
const broker = async (command: 'start' | 'stop', extra: NodeJS.ProcessEnv = {}): Promise<string> => {
  const { stdout } = await run('bash', [script, command], {
    env: { ...env, ...extra },
    timeout: 5 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split('\n').pop()!.trim();
};

const segments = ['vip', 'newsletter', 'churn'];
const SECONDS = 36;
const PER_SECOND = 40;
const CONTACTS = 600;
/** When the broker goes down (seconds into the stream), and how: SIGTERM and a wait, or SIGKILL at once. */
const RESTARTS = new Map([
  [8, { how: 'graceful', stop: {} }],
  [22, { how: 'killed', stop: { KAFKA_STOP_TIMEOUT: '0' } }],
]);
const DOWN_MS = 5_000;

let brokerUp = false;
const w = drillWorld(segments, { timeScale: 10 }, async () => {
  process.env.KAFKA_BROKERS = await broker('start');
  brokerUp = true;
  w.defer(() => broker('stop')); // only this file's broker
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
    if (!brokerUp) await broker('start').catch(() => undefined);
  });
  const stream = new FlappingStream({
    seed: 1701,
    prefix: 'br-',
    contacts: CONTACTS,
    segments,
    unmapped: 0.05,
    firstRemove: 0.4,
    leave: 0.45,
    reenter: 0.55,
  });
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
      await broker('stop', restart.stop);
      assert.equal(await listening(), false, `the broker is down (${restart.how})`);
      t.diagnostic(`broker stopped (${restart.how}) at ${s} s`);
      // The outage's length, not a wait for a condition: the broker stays away this long.
      await sleep(DOWN_MS);
      await broker('start');
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
