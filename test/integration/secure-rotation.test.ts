import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Admin } from 'kafkajs';
import { membershipDiff, sampleEvents, type SampleEvent } from '../../src/dev/sample/events.js';
import { rawConfig, runCli, runToExit, waitForLog, writeConfig } from '../support/cli.js';
import { eventually, offsetsCaughtUp, startSimulator, uniqueTopic, type Simulator } from '../support/harness.js';
import { secureBroker, secureScript, setupKafka, type SecureBroker } from '../support/secure-broker.js';

/**
 * Password rotation without a restart of the service: the SCRAM password changes on the broker (Kafka's
 * ConfigCommand, through scripts/kafka-secure.sh) and in the service's password file. The old password is then
 * refused; the broker restarts, so every connection of the running service is cut and made again; the events
 * that arrive afterwards are synced, so the service logged in with the password it re-read from the file.
 */
const broker = secureBroker();
const skip = broker
  ? false
  : process.env.CI
    ? false
    : 'KAFKA_SECURE_* are not set: start `bash scripts/kafka-secure.sh start` and export its output lines';
const segments = ['vip', 'newsletter'];
let b: SecureBroker;
let admin: Admin;
let sim: Simulator;

before(async () => {
  if (skip) return;
  if (!broker)
    throw new Error(
      'KAFKA_SECURE_* are not set, and CI must run the secured-broker tests (.ci/run starts scripts/kafka-secure.sh)',
    );
  b = broker;
  admin = setupKafka(b).admin();
  await admin.connect();
  sim = await startSimulator({
    timeScale: 10,
    lists: segments.map((_, i) => ({ id: String(i + 1), name: `L${i + 1}` })),
  });
});
after(async () => {
  if (skip) return;
  await sim?.close();
  await admin?.disconnect();
});

type Expected = Map<string, Map<string, 'add' | 'remove'>>;
function expectedOf(events: SampleEvent[]): Expected {
  const expected: Expected = new Map();
  for (const { value } of events) {
    const seg = expected.get(value.segmentId) ?? new Map<string, 'add' | 'remove'>();
    seg.set(value.profile.email, value.op);
    expected.set(value.segmentId, seg);
  }
  return expected;
}
const listOf = (segment: string) => String(segments.indexOf(segment) + 1);
const synced = (expected: Expected) =>
  membershipDiff(expected, listOf, (id) => sim.snapshot().lists[id]?.members ?? {}).length === 0;

async function produceJson(topic: string, events: SampleEvent[]): Promise<void> {
  const producer = setupKafka(b).producer();
  await producer.connect();
  await producer.send({ topic, messages: events.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })) });
  await producer.disconnect();
}

// It failed now and then in session 2: with the broker restarting, kafkajs's coordinator lookup failed on a
// connection error that kafkajs does not retry, the consumer crashed without restarting, and the service exited
// (code 5). The consumer now starts itself again on such errors (test/ingest/consumer-crash.test.ts).
test('a changed password file is used the next time the service connects: after a broker restart it logs in with the new password', {
  skip,
}, async () => {
  const topic = uniqueTopic('secure-rotation');
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  const user = `rotating-${process.pid}`;
  const [first, second] = [randomBytes(12).toString('hex'), randomBytes(12).toString('hex')];
  await secureScript(b, ['scram-user', user], `${first}\n`);
  const passwordFile = join(mkdtempSync(join(tmpdir(), 'ac-list-sync-rotation-')), 'kafka-password');
  writeFileSync(passwordFile, `${first}\n`);

  const kafka = (password: Record<string, string>) => ({
    brokers: [b.saslSsl],
    ssl: { caFile: b.file('ca.pem') },
    sasl: { mechanism: 'scram-sha-512', username: user, password },
  });
  const configOf = (password: Record<string, string>) => {
    const base = rawConfig(topic, sim, segments, { log: { level: 'debug' } });
    return writeConfig({ ...base, kafka: { ...(base.kafka as Record<string, unknown>), ...kafka(password) } });
  };
  const events = [
    ...sampleEvents({
      events: 60,
      profiles: 25,
      segments,
      removeRatio: 0.25,
      reentry: false,
      seed: 41,
      start: Date.parse('2026-11-28T10:00:00Z'),
    }),
  ];
  await produceJson(topic, events.slice(0, 30));

  const service = runCli(['run', '--config', configOf({ file: passwordFile })]);
  try {
    await waitForLog(service, 'The sync is running');
    await eventually(() => synced(expectedOf(events.slice(0, 30))), 'the lists to match the first 30 events', 60_000);

    await secureScript(b, ['scram-user', user], `${second}\n`);
    writeFileSync(passwordFile, `${second}\n`);
    const old = await runToExit(['dlq', 'inspect', '--config', configOf({ value: first })], 60_000);
    assert.equal(old.code, 2, 'the old password is refused now');
    assert.match(old.stderr.join('\n'), /^ac-list-sync: config kafka\.sasl: /m);

    // Every connection of the running service ends here; the ones it makes next must log in again.
    await secureScript(b, ['stop']);
    await secureScript(b, ['start']);
    await produceJson(topic, events.slice(30));
    await eventually(
      () => synced(expectedOf(events)),
      'the lists to match all 60 events after the broker restart',
      120_000,
    ).catch((err: Error) => {
      const diff = membershipDiff(expectedOf(events), listOf, (id) => sim.snapshot().lists[id]?.members ?? {});
      throw new Error(
        `${err.message}\n${diff.length} differences, first: ${diff.slice(0, 3).join('; ')}\nlast log lines:\n${[...service.stdout.slice(-20), ...service.stderr.slice(-40)].join('\n')}`,
      );
    });
    await eventually(() => offsetsCaughtUp(admin, `${topic}-g`, topic), 'the service to commit to the end', 60_000);

    service.proc.kill('SIGTERM');
    assert.equal((await service.exited).code, 0, `a clean stop\n${service.stderr.slice(-5).join('\n')}`);
  } finally {
    await service.kill();
  }
  const printed = [...service.stdout, ...service.stderr];
  assert.ok(printed.length > 10, 'the service printed lines to check');
  for (const secret of [first, second])
    assert.equal(
      printed.find((l) => l.includes(secret)),
      undefined,
      'no line holds a password',
    );
});
