import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Partitioners } from 'kafkajs';
import type { Config } from '../../src/config/schema.js';
import type { EventRef } from '../../src/ingest/source.js';
import { parseFrom } from '../../src/replay/from.js';
import { setStartOffsets } from '../../src/replay/positions.js';
import { runReplay } from '../../src/replay/run.js';
import { kafka, quietLog, type Service } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * A replay of a backlog beside the live sync, on one account with its limits on (time 5× faster): the replay
 * spends the reserved replayShare, the live instance the rest, so the simulator sees no request over its limits.
 * The live sync's latency (Kafka append → accepted by ActiveCampaign) is reported, not asserted.
 */
const segments = ['vip', 'newsletter', 'churn'];
const w = world({ segments, simulator: { timeScale: 5 } });

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;

test('a replay beside the live sync: no request over the account limits, and the live sync keeps near-real-time latency', async (t) => {
  const topic = await w.topic('replay-beside', 3);
  const expected = await w.produceSample(topic, { events: 20_000, profiles: 8_000, segments, seed: 9 });
  const base = w.config(topic);
  const config: Config = { ...base, connections: { main: { ...base.connections.main!, replayShare: 0.5 } } };

  // The live group starts at the end of the backlog: the backlog is the replay's.
  const ends = await w.admin.fetchTopicOffsets(topic);
  await setStartOffsets(
    kafka(),
    w.admin,
    config.kafka.groupId,
    ends.map((e) => ({ topic, partition: e.partition, start: Number(e.high), end: Number(e.high) })),
  );
  const latencies: number[] = [];
  const onAccepted = (refs: readonly EventRef[], at: number) => {
    for (const r of refs) latencies.push(at - r.message.timestamp);
  };
  const live = await w.start(config, { onAccepted });

  // Live events, ~20/s, each a new contact, from the replay's start for as long as it runs.
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let produced = 0;
  let replaying = true;
  let liveStream: Promise<void> = Promise.resolve();
  const streamLive = async () => {
    while (replaying) {
      const i = produced++;
      const segmentId = segments[i % segments.length]!;
      const email = `live${i}@example.com`;
      expected.get(segmentId)!.set(email, 'add');
      await producer.send({
        topic,
        messages: [
          {
            key: `live-${i}`,
            value: JSON.stringify({
              eventId: `live-${i}`,
              occurredAt: new Date().toISOString(),
              segmentId,
              op: 'add',
              profile: { id: `live-${i}`, email },
            }),
          },
        ],
      });
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  let replayService: Service | undefined;
  try {
    const replay = await runReplay(config, {
      from: parseFrom('earliest'),
      log: quietLog(),
      onStarted: (s) => {
        replayService = s;
        liveStream = streamLive();
      },
    }).finally(() => (replaying = false));
    await liveStream;
    assert.equal(replay.exitCode, 0);
    assert.equal(
      replay.summary.events.consumed,
      20_000,
      'the backlog, and not one live event: the ends were fixed at start',
    );
    assert.equal(replayService!.budgetShare('main'), 0.5, 'the replay paces itself to replayShare');
    assert.equal(live.budgetShare('main'), 0.5, 'the live instance, owning every partition, to the rest');
    await w.until(() => latencies.length >= produced, `the live sync to deliver all ${produced} live events`, 60_000);
    await w.membership(expected, 'backlog and live events to be in the account');
  } finally {
    replaying = false;
    await liveStream.catch(() => undefined);
    await producer.disconnect();
    await live.stop();
  }

  const counters = w.sim.snapshot().counters;
  assert.equal(counters.violations, 0, 'no request over the simulator limits after a signal');
  const sorted = [...latencies].sort((a, b) => a - b);
  const report = `live sync beside the replay: ${produced} live events, latency append→accepted p50 ${quantile(sorted, 0.5)} ms, p99 ${quantile(sorted, 0.99)} ms, max ${sorted.at(-1)} ms (linger ${config.buffer.lingerMs} ms); account: ${counters.requests} requests, ${counters.importsAccepted} imports, ${counters.rateLimited429} answered 429, ${counters.overLimitTotal} over a limit, ${counters.violations} violations`;
  t.diagnostic(report);
  process.stderr.write(`${report}\n`);
  assert.ok(produced > 20, 'the live stream ran while the replay did');
});
