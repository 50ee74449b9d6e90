import assert from 'node:assert/strict';
import { test } from 'node:test';
import { membershipDiff } from '../../src/dev/sample/events.js';
import { waitForLog, writeConfig, type CliProcess } from '../support/cli.js';
import { world } from '../support/world.js';

/**
 * SIGTERM on the running CLI: buffered changes are flushed and confirmed, offsets committed, exit 0 within
 * shutdown.deadlineMs. With ActiveCampaign down, it exits at the deadline with code 3 and commits nothing that
 * has not settled; a restart then delivers everything.
 */
const segments = ['vip', 'newsletter', 'churn'];
// Fewer contacts than one import holds and a long linger: nothing is sent before the signal.
const EVENTS = 600;
const PROFILES = 150;
// Each test has an account of its own: the sample streams share emails.
const w = world({ segments, simulator: { timeScale: 20 }, simulatorPerTest: true });

/** Starts the CLI and waits until it holds every event of the topic unsent (read from its /metrics). */
async function startHolding(configFile: string): Promise<CliProcess> {
  const { child, port } = await w.run(configFile);
  await w.until(
    async () =>
      metric(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), 'ac_list_sync_pending_events') === EVENTS,
    `${EVENTS} events pending`,
  );
  return child;
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const config = (topic: string, deadlineMs: number) =>
  w.rawConfig(topic, { buffer: { lingerMs: 600_000 }, shutdown: { deadlineMs }, http: { host: '127.0.0.1', port: 0 } });

test('SIGTERM flushes, confirms and commits everything, then exits 0 within the deadline', async () => {
  const topic = await w.topic('sigterm', 3);
  const expected = await w.produceSample(topic, { events: EVENTS, profiles: PROFILES, segments, seed: 41 });
  const child = await startHolding(writeConfig(config(topic, 20_000)));
  assert.equal(w.sim.snapshot().counters.importsAccepted, 0, 'the linger holds every change before the signal');
  assert.equal(await w.caughtUp(w.config(topic)), false, 'nothing committed before the signal');

  const signalled = Date.now();
  child.proc.kill('SIGTERM');
  const { code } = await child.exited;
  assert.equal(code, 0, `exit 0 after a clean stop:\n${child.stderr.slice(-5).join('\n')}`);
  assert.ok(Date.now() - signalled < 20_000, 'within shutdown.deadlineMs');
  assert.ok(child.logged('Stopped after settling everything'));

  // Already true when the process is gone: no waiting here.
  assert.equal(await w.caughtUp(w.config(topic)), true, 'offsets committed to the end before exit');
  assert.deepEqual(
    membershipDiff(expected, w.listOf, (id) => w.sim.snapshot().lists[id]?.members ?? {}),
    [],
  );
});

test('with ActiveCampaign down, SIGTERM exits 3 at the deadline and commits nothing unsettled; a restart delivers it all', async () => {
  const topic = await w.topic('sigterm-down', 3);
  const expected = await w.produceSample(topic, { events: EVENTS, profiles: PROFILES, segments, seed: 42 });
  const deadlineMs = 3_000;
  const file = writeConfig(config(topic, deadlineMs));
  let child = await startHolding(file);
  w.defer(async () => w.sim.configure({ unavailable: false }));
  w.sim.configure({ unavailable: true });
  const signalled = Date.now();
  child.proc.kill('SIGTERM');
  const { code } = await child.exited;
  const took = Date.now() - signalled;
  assert.equal(code, 3, `exit 3 at the deadline:\n${child.stderr.slice(-5).join('\n')}`);
  // Settling may take the deadline less a reserve (at most 20%) kept for the final commit and the disconnects.
  assert.ok(took >= deadlineMs * 0.8, `it waited for the deadline (${took} ms)`);
  assert.ok(took < deadlineMs + 1_000, `and then stopped, within the deadline (${took} ms)`);
  assert.ok(child.logged('Stopped at the shutdown deadline'));

  // Nothing settled, so nothing may be committed.
  const [offsets] = await w.admin.fetchOffsets({ groupId: `${topic}-g`, topics: [topic] });
  assert.ok(
    offsets!.partitions.every((p) => Number(p.offset) <= 0),
    `no offset committed: ${JSON.stringify(offsets!.partitions)}`,
  );

  w.sim.configure({ unavailable: false });
  child = w.cli(['run', '--config', writeConfig({ ...config(topic, 20_000), buffer: { lingerMs: 200 } })]);
  await w.committed(w.config(topic), 'the restarted service to commit to the end');
  assert.deepEqual(
    membershipDiff(expected, w.listOf, (id) => w.sim.snapshot().lists[id]?.members ?? {}),
    [],
  );
  child.proc.kill('SIGTERM');
  assert.equal((await child.exited).code, 0);
});

test('SIGTERM while a dead letter cannot be written: exit 3 within the deadline, naming the partition and offset left unsettled', async () => {
  const topic = await w.topic('sigterm-stuck', 2);
  // A dead-letter topic whose records may not exceed 200 bytes: no letter fits, even with its value cut.
  await w.admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic: `${topic}.dlq`, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: '200' }] }],
  });
  const good = (i: number) =>
    JSON.stringify({
      eventId: `g${i}`,
      occurredAt: '2026-11-28T10:00:00Z',
      segmentId: 'vip',
      op: 'add',
      profile: { id: `p${i}`, email: `good${i}@example.com` },
    });
  // Partition 0: a good event, the record whose letter cannot be written, a good event. Partition 1: good ones only.
  await w.produce(topic, [
    { partition: 0, key: 'p0', value: good(0) },
    { partition: 0, key: 'bad', value: 'not json at all' },
    { partition: 0, key: 'p2', value: good(2) },
  ]);
  await w.produce(
    topic,
    [10, 11, 12].map((i) => ({ partition: 1, key: `p${i}`, value: good(i) })),
  );
  const deadlineMs = 4_000;
  const child = w.cli([
    'run',
    '--config',
    w.configFile(topic, { buffer: { lingerMs: 50 }, shutdown: { deadlineMs }, http: { host: '127.0.0.1', port: 0 } }),
  ]);
  await waitForLog(child, 'Kafka refuses one record');
  // Offset 0 settles; offset 1's letter is refused, so partition 0's commits stop there; partition 1 goes on.
  const committed = async (p: number) =>
    Number(
      (await w.admin.fetchOffsets({ groupId: `${topic}-g`, topics: [topic] }))[0]!.partitions.find(
        (x) => x.partition === p,
      )!.offset,
    );
  await w.until(
    async () => (await committed(0)) === 1 && (await committed(1)) === 3,
    'offset 0 of partition 0 and all of partition 1 committed',
  );
  const signalled = Date.now();
  child.proc.kill('SIGTERM');
  const { code } = await child.exited;
  const took = Date.now() - signalled;
  assert.equal(code, 3, `exit 3:\n${child.stderr.slice(-5).join('\n')}`);
  assert.ok(took < deadlineMs + 1_000, `within the deadline (${took} ms)`);
  const stopped = child.stderr
    .map((l) =>
      l.startsWith('{')
        ? (JSON.parse(l) as {
            msg?: string;
            clean?: boolean;
            unsettled?: { topic: string; partition: number; offset: number }[];
          })
        : {},
    )
    .find((l) => l.msg?.startsWith('Stopped'));
  assert.equal(stopped?.clean, false, 'the stop does not claim a clean finish');
  assert.deepEqual(
    stopped?.unsettled?.map((u) => [u.topic, u.partition, u.offset]),
    [[topic, 0, 1]],
    'it names what stayed unsettled',
  );
  assert.ok(!child.logged('Stopped after settling everything'));
  assert.equal(await committed(0), 1, 'nothing committed past the unwritten letter');
  assert.equal(await committed(1), 3, 'the other partition committed to its end');
});
