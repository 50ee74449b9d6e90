import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Service } from '../support/harness.js';
import { getJson } from '../support/observability.js';
import { world } from '../support/world.js';

/**
 * /readyz while the broker is down, on a broker of this test's own: ready, then not ready with the reason once the
 * broker stops, then ready again once it is back. The test runner runs files one at a time, so nothing else uses
 * this broker meanwhile (the shared one on 19092 must never stop).
 *
 * Its port, 21392, is below Linux's ephemeral range (32768-60999). While the broker is down the service keeps
 * dialling it, and a connect whose source port happens to be the port it dials connects to itself (TCP
 * self-connect) and holds the port: on 39092 the broker then failed to bind when it came back.
 */
const run = promisify(execFile);
const script = fileURLToPath(new URL('../../../scripts/kafka-local.sh', import.meta.url));
const env = {
  ...process.env,
  KAFKA_LOCAL_PORT: process.env.KAFKA_RESTART_TEST_PORT ?? '21392',
  KAFKA_HEAP_OPTS: '-Xmx384m -Xms128m',
};
const broker = async (command: 'start' | 'stop'): Promise<string> => {
  const { stdout } = await run('bash', [script, command], { env, timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim().split('\n').pop()!.trim();
};

let address: string;
let service: Service | undefined;
let brokerUp = false;

// The world's admin and producer are on this test's broker, started before the first test and stopped last.
const w = world({
  segments: ['vip'],
  simulator: { timeScale: 5 },
  kafka: async () => {
    address = await broker('start');
    brokerUp = true;
    w.defer(() => broker('stop')); // only this test's broker
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
    if (!brokerUp) await broker('start').catch(() => undefined);
  });
  await w.until(async () => (await readyz()).status === 200, '/readyz to answer 200 with the broker up', 60_000);

  await broker('stop');
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

  await broker('start');
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
