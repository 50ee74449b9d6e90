import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Service } from '../support/harness.js';
import { getJson } from '../support/observability.js';
import { ownBroker } from '../support/own-broker.js';
import { world } from '../support/world.js';

/**
 * /readyz while the broker is down, on a broker of this test's own (own-broker.ts): ready, then not ready with the
 * reason once the broker stops, then ready again once it is back. (On 39092, in the ephemeral range, the broker
 * once failed to bind when it came back: own-broker.ts says why its ports are lower.)
 */
const own = ownBroker(Number(process.env.KAFKA_RESTART_TEST_PORT ?? 21392));

let address: string;
let service: Service | undefined;
let brokerUp = false;

// The world's admin and producer are on this test's broker, started before the first test and stopped last.
const w = world({
  segments: ['vip'],
  simulator: { timeScale: 5 },
  kafka: async () => {
    address = await own.start();
    brokerUp = true;
    w.defer(() => own.stop()); // only this test's broker
    return new Kafka({ clientId: 'readiness-test', brokers: [address], logLevel: logLevel.NOTHING });
  },
});

async function readyz(): Promise<{ status: number; body: Record<string, unknown> }> {
  return getJson(service!.httpPort, '/readyz');
}

test('/readyz is 503 while the broker is down and 200 once it is back', { timeout: 6 * 60_000 }, async () => {
  const topic = await w.topic('ready');
  const config = w.config(topic, {
    kafka: {
      brokers: [address],
      topics: [topic],
      groupId: `${topic}-g`,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 1_000,
      commitIntervalMs: 200,
    },
    http: { host: '127.0.0.1', port: 0, probeIntervalMs: 500 },
    shutdown: { deadlineMs: 5_000 },
  });
  // Stopping the service needs the broker (final commit, leaving the group): given up on after 60 s, and the
  // broker brought back first if a failure left it down (deferred later, so run earlier).
  service = await w.start(config, {}, 60_000);
  w.defer(async () => {
    if (!brokerUp) await own.start().catch(() => undefined);
  });
  await w.until(async () => (await readyz()).status === 200, '/readyz to answer 200 with the broker up', 60_000);

  await own.stop();
  brokerUp = false;
  let body: Record<string, unknown> = {};
  await w.until(
    async () => {
      const r = await readyz();
      body = r.body;
      // The consumer may notice first ("not connected"); the probe must say it too.
      return r.status === 503 && /Kafka is not reachable/.test(JSON.stringify(r.body.reasons));
    },
    '/readyz to answer 503 with the broker down, naming Kafka',
    60_000,
  );
  assert.equal(body.ready, false);
  const healthz = await getJson(service.httpPort, '/healthz');
  assert.equal(healthz.status, 200, 'the process itself is alive: no restart wanted');

  await own.start();
  brokerUp = true;
  await w.until(async () => (await readyz()).status === 200, '/readyz to answer 200 once the broker is back', 120_000);

  // Ready means working: an event produced now is delivered.
  const producer = await w.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const value = JSON.stringify({
    eventId: 'r1',
    occurredAt: '2026-11-28T12:00:00Z',
    segmentId: 'vip',
    op: 'add',
    profile: { id: 'r1', email: 'back.again@example.com' },
  });
  await producer.send({ topic, messages: [{ key: 'r1', value }] });
  await w.until(
    () => w.sim.snapshot().lists['1']?.members['back.again@example.com']?.status === 1,
    'an event produced after the outage to be delivered',
    120_000,
  );
});
