import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleEvents } from '../../src/dev/sample/events.js';
import { runToExit, waitForLog } from '../support/cli.js';
import { secureBroker, secureWorld, type SecureBroker } from '../support/secure-broker.js';
import { world } from '../support/world.js';

/**
 * The service, `replay`, `dlq inspect` and `trace`, each run as an operator runs it, through each listener of a
 * broker secured like managed Kafka (scripts/kafka-secure.sh): SASL_SSL with SCRAM-SHA-512, SASL_SSL with PLAIN,
 * and mutual TLS, all with a private CA. Each run does its work, and no line it prints holds a secret. A wrong
 * password, an untrusted broker certificate and a missing client certificate stop each command at start-up with
 * one line naming kafka.sasl or kafka.ssl. (Rotation of a password file: secure-rotation.test.ts.)
 */
const { skip, kafka: setupKafka } = secureWorld();
// A simulator for each test: lists that earlier tests filled would hide what a run did.
const w = world({
  segments: ['vip', 'newsletter'],
  simulator: { timeScale: 10 },
  simulatorPerTest: true,
  skip,
  kafka: setupKafka,
});
const b = secureBroker() as SecureBroker;

type Listener = 'scram' | 'plain' | 'mtls';
/** kafka.brokers/ssl/sasl for a listener, and the secrets that must never be printed. */
function security(listener: Listener): { kafka: Record<string, unknown>; secrets: string[] } {
  const ssl = { caFile: b.file('ca.pem') };
  if (listener === 'mtls') {
    // A line from the middle of the client key: any part of it in a log would be a leak.
    const keyLines = b.read('client.key').split('\n');
    return {
      kafka: { brokers: [b.mtls], ssl: { ...ssl, certFile: b.file('client.pem'), keyFile: b.file('client.key') } },
      secrets: [keyLines[Math.floor(keyLines.length / 2)]!],
    };
  }
  const mechanism = listener === 'scram' ? 'scram-sha-512' : 'plain';
  return {
    kafka: {
      brokers: [b.saslSsl],
      ssl,
      sasl: { mechanism, username: b.read(`${listener}.user`), password: { file: b.file(`${listener}.password`) } },
    },
    secrets: [b.read(`${listener}.password`)],
  };
}

function configFile(topic: string, kafka: Record<string, unknown>): string {
  return w.configFileWith(topic, kafka, {
    connections: w.connections({ replayShare: 0.5 }),
    log: { level: 'debug' },
  });
}

function assertNoSecret(lines: string[], secrets: string[], what: string): void {
  for (const secret of secrets) {
    const leak = lines.find((l) => l.includes(secret));
    assert.equal(leak, undefined, `${what}: a printed line holds a secret`);
  }
}

for (const [seed, listener] of (['scram', 'plain', 'mtls'] as const).entries()) {
  test(`through ${listener === 'mtls' ? 'mutual TLS' : `SASL_SSL ${listener}`}: the service syncs, replay replays, dlq inspect and trace report, and no secret is printed`, {
    skip,
  }, async () => {
    const topic = await w.topic(`secure-${listener}`);
    const expected = new Map<string, Map<string, 'add' | 'remove'>>();
    const events = [
      ...sampleEvents(
        {
          events: 40,
          profiles: 15,
          segments: w.segments,
          removeRatio: 0.25,
          reentry: false,
          seed: 31 + seed,
          start: Date.parse('2026-11-28T10:00:00Z'),
        },
        expected,
      ),
    ];
    await (await w.producer()).send({
      topic,
      messages: [
        ...events.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })),
        { key: 'bad', value: 'not json' },
      ],
    });
    const { kafka, secrets } = security(listener);
    const file = configFile(topic, kafka);
    const service = w.cli(['run', '--config', file]);
    await waitForLog(service, 'The sync is running');
    await w.membership(expected, `the lists to match the events (${listener})`, { timeoutMs: 60_000 });
    await w.committed(w.config(topic), 'the service to commit to the end, the bad record dead-lettered', 60_000);
    service.proc.kill('SIGTERM');
    assert.equal((await service.exited).code, 0, `a clean stop\n${service.stderr.slice(-5).join('\n')}`);
    const printed = [...service.stdout, ...service.stderr];

    const inspect = await runToExit(['dlq', 'inspect', '--config', file], 60_000);
    printed.push(...inspect.stdout, ...inspect.stderr);
    assert.equal(inspect.code, 0, inspect.stderr.slice(-5).join('\n'));
    const inspected = inspect.stdout.join('\n');
    assert.match(inspected, new RegExp(`${topic}\\.dlq`));
    assert.match(inspected, /decode\/NOT_JSON +1/);

    const last = events.at(-1)!.value;
    const email = last.profile.email;
    const trace = await runToExit(['trace', '--email', email, '--config', file], 60_000);
    printed.push(...trace.stdout, ...trace.stderr);
    assert.equal(trace.code, 0, trace.stderr.slice(-5).join('\n'));
    assert.match(trace.stdout.join('\n'), /ledger: /);
    assert.ok(
      trace.stdout.some((l) => l.includes(` ${last.eventId} (${topic}/0@`)),
      `trace shows the contact's last event\n${trace.stdout.join('\n')}`,
    );

    const replay = await runToExit(['replay', '--config', file, '--from', 'earliest'], 90_000);
    printed.push(...replay.stdout, ...replay.stderr);
    const summary = replay.stdout.join('\n');
    assert.equal(
      replay.code,
      4,
      `exit 4: complete, the bad record dead-lettered again\n${summary}\n${replay.stderr.slice(-5).join('\n')}`,
    );
    assert.match(summary, /Events: +41 consumed of 41 offsets in range/);

    assert.ok(printed.length > 20, 'the commands printed lines to check');
    assertNoSecret(printed, secrets, listener);
  });
}

/** Each of the four commands against one config: exit 2, one line naming `key`, no secret. */
async function refusedEverywhere(
  topic: string,
  kafka: Record<string, unknown>,
  key: 'kafka.sasl' | 'kafka.ssl',
  secrets: string[],
): Promise<void> {
  const file = configFile(topic, kafka);
  const commands = [
    ['run'],
    ['replay', '--from', 'earliest'],
    ['dlq', 'inspect'],
    ['trace', '--email', 'ana@example.com'],
  ];
  for (const command of commands) {
    const run = await runToExit([...command, '--config', file], 60_000);
    const all = [...run.stdout, ...run.stderr];
    assert.equal(run.code, 2, `${command[0]}: exit 2\n${all.slice(-5).join('\n')}`);
    const line = run.stderr.find((l) => l.startsWith('ac-list-sync: config '));
    assert.ok(
      line?.startsWith(`ac-list-sync: config ${key}:`),
      `${command[0]}: one line naming ${key}, got: ${line ?? run.stderr.slice(-3).join(' | ')}`,
    );
    assertNoSecret(all, secrets, command[0]!);
  }
}

test('a wrong SASL password (SCRAM and PLAIN) is a start-up error naming kafka.sasl, for the service, replay, dlq inspect and trace', {
  skip,
}, async () => {
  const topic = await w.topic('secure-wrong-password');
  const wrong = 'not-the-password-4711';
  for (const listener of ['scram', 'plain'] as const) {
    const { kafka } = security(listener);
    const sasl = kafka.sasl as Record<string, unknown>;
    await refusedEverywhere(topic, { ...kafka, sasl: { ...sasl, password: { value: wrong } } }, 'kafka.sasl', [wrong]);
  }
});

test('an untrusted broker certificate (no kafka.ssl.caFile) and a missing client certificate are start-up errors naming kafka.ssl', {
  skip,
}, async () => {
  const topic = await w.topic('secure-untrusted');
  const { kafka, secrets } = security('scram');
  await refusedEverywhere(topic, { ...kafka, ssl: true }, 'kafka.ssl', secrets);
  await refusedEverywhere(topic, { brokers: [b.mtls], ssl: { caFile: b.file('ca.pem') } }, 'kafka.ssl', []);
  // A client certificate the broker's CA did not sign.
  const stranger = await runToExit(
    [
      'dlq',
      'inspect',
      '--config',
      configFile(topic, {
        brokers: [b.mtls],
        ssl: { caFile: b.file('ca.pem'), certFile: b.file('stranger.pem'), keyFile: b.file('stranger.key') },
      }),
    ],
    60_000,
  );
  assert.equal(stranger.code, 2);
  assert.match(
    stranger.stderr.join('\n'),
    /^ac-list-sync: config kafka\.ssl: .* does not accept the client certificate of kafka\.ssl\.certFile/m,
  );
});
