import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rawConfig, runCli, runToExit, waitForLog, writeConfig } from '../support/cli.js';
import { eventually, startSimulator, type Simulator } from '../support/harness.js';

/**
 * Start-up rules, through the CLI as an operator runs it: each config error ends `run` and `check-config` with
 * one line on stderr naming the key and a non-zero exit; `check-config --online` also checks Kafka and each
 * account, with a bounded wait; an unreachable account at start-up is waited for, not a crash.
 */
const hasBroker = Boolean(process.env.KAFKA_BROKERS);
if (!hasBroker) process.env.KAFKA_BROKERS = '127.0.0.1:9'; // the offline cases never connect
const needsBroker = hasBroker ? {} : { skip: 'needs a broker (KAFKA_BROKERS)' };

let sim: Simulator;
let topic = 't-config-errors';
before(async () => {
  sim = await startSimulator({
    lists: [{ id: '1', name: 'L1' }],
    fields: [{ id: '1', title: 'Tier', perstag: 'TIER' }],
  });
  if (!hasBroker) return;
  const { kafka, uniqueTopic, createTopic } = await import('../support/harness.js');
  topic = uniqueTopic('config');
  const admin = kafka().admin();
  await admin.connect();
  await createTopic(admin, topic, 1);
  await admin.disconnect();
});
after(() => sim.close());

const base = (overrides: Record<string, unknown> = {}) =>
  rawConfig(topic, sim, ['vip'], { log: { level: 'warn' }, ...overrides });

/** Non-zero exit, exactly one stderr line, no stack, naming every fragment. */
function assertOneLine(result: { code: number | null; stderr: string[] }, ...names: string[]): void {
  assert.notEqual(result.code, 0, 'a non-zero exit');
  assert.notEqual(result.code, null, 'the process ended by itself');
  assert.equal(result.stderr.length, 1, `one line on stderr, got:\n${result.stderr.join('\n')}`);
  const line = result.stderr[0]!;
  assert.match(line, /^ac-list-sync: /);
  for (const name of names) assert.ok(line.includes(name), `"${line}" names ${name}`);
}

const offlineErrors: { name: string; file: () => string; names: string[] }[] = [
  {
    name: 'an unknown key',
    file: () => writeConfig(base({ buffer: { lingerMS: 100 } })),
    names: ['buffer', 'lingerMS'],
  },
  {
    name: 'an unknown top-level key',
    file: () => writeConfig({ ...base(), unmapedSegments: 'skip' }),
    names: ['unmapedSegments'],
  },
  {
    name: 'a bad type',
    file: () => writeConfig(base({ kafka: { ...(base().kafka as object), sessionTimeoutMs: '6000' } })),
    names: ['kafka.sessionTimeoutMs'],
  },
  {
    name: 'an unreadable file',
    file: () => join(mkdtempSync(join(tmpdir(), 'ac-list-sync-test-')), 'missing.json'),
    names: ['(file)', 'missing.json'],
  },
  { name: 'a file that is not JSON', file: () => writeConfig('{ "kafka": '), names: ['(file)', 'not valid JSON'] },
  {
    name: 'a bad broker address',
    file: () => writeConfig(base({ kafka: { ...(base().kafka as object), brokers: ['kafka-1'] } })),
    names: ['kafka.brokers.0', 'host:port'],
  },
  {
    name: 'no privacy acknowledgement',
    file: () => writeConfig(base({ connections: { main: { apiUrl: sim.url, apiKey: { value: 'sim-token' } } } })),
    names: ['connections.main.privacyAcknowledged', 'must be true'],
  },
  {
    name: 'an export naming no connection',
    file: () => writeConfig(base({ exports: [{ name: 'vip', segmentId: 'vip', connection: 'other', listId: '1' }] })),
    names: ['exports.0.connection'],
  },
];

describe('a malformed config ends start-up with one line naming the key', () => {
  for (const c of offlineErrors) {
    test(`${c.name}: run and check-config`, async () => {
      const file = c.file();
      const [run, check] = await Promise.all([
        runToExit(['run', '--config', file]),
        runToExit(['check-config', '--config', file]),
      ]);
      assertOneLine(run, ...c.names);
      assertOneLine(check, ...c.names);
    });
  }

  test('a valid file passes check-config offline (and says what it holds)', async () => {
    const result = await runToExit(['check-config', '--config', writeConfig(base())]);
    assert.equal(result.code, 0, result.stderr.join('\n'));
    assert.match(result.stdout.join('\n'), /^ok: 1 exports, 1 connections/);
  });

  test('usage errors are one line too, exit 2', async () => {
    const cases = [
      ['run'],
      ['run', '--no-such-flag'],
      ['check-config', '--config', 'x.json', '--online', '--timeout', 'soon'],
    ];
    const results = await Promise.all(cases.map((args) => runToExit(args)));
    results.forEach((result, i) => {
      assertOneLine(result, i === 0 ? '--config' : i === 1 ? '--no-such-flag' : '--timeout');
      assert.equal(result.code, 2, `${cases[i]!.join(' ')}: exit 2`);
    });
  });
});

describe('what the account answers as missing ends start-up the same way', () => {
  const missingList = () =>
    writeConfig(base({ exports: [{ name: 'vip', segmentId: 'vip', connection: 'main', listId: '9' }] }));
  const missingField = () =>
    writeConfig(
      base({
        exports: [
          {
            name: 'vip',
            segmentId: 'vip',
            connection: 'main',
            listId: '1',
            fields: { tier: 'TIER', plan: 'NO_SUCH_FIELD' },
          },
        ],
      }),
    );
  const missingFieldId = () =>
    writeConfig(
      base({ exports: [{ name: 'vip', segmentId: 'vip', connection: 'main', listId: '1', fields: { tier: 99 } }] }),
    );

  test('a list the account does not have', async () => {
    assertOneLine(await runToExit(['run', '--config', missingList()]), 'exports.0.listId', 'list 9');
  });
  test('a custom field the account does not have (perstag or id)', async () => {
    assertOneLine(await runToExit(['run', '--config', missingField()]), 'exports.0.fields.plan', 'NO_SUCH_FIELD');
    assertOneLine(await runToExit(['run', '--config', missingFieldId()]), 'exports.0.fields.tier', '99');
  });
  test('check-config offline does not ask the account; --online does', needsBroker, async () => {
    assert.equal((await runToExit(['check-config', '--config', missingList()])).code, 0);
    assertOneLine(await runToExit(['check-config', '--online', '--config', missingList()]), 'exports.0.listId');
    assertOneLine(await runToExit(['check-config', '--online', '--config', missingField()]), 'exports.0.fields.plan');
  });
});

function jsonLine(line: string): { msg?: string; port?: number } {
  try {
    return JSON.parse(line) as { msg?: string; port?: number };
  } catch {
    return {};
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('check-config --online', needsBroker, () => {
  test('passes when Kafka, the topics, the lists and the fields are there', async () => {
    const file = writeConfig(
      rawConfig(topic, sim, ['vip'], {
        exports: [{ name: 'vip', segmentId: 'vip', connection: 'main', listId: '1', fields: { tier: 'TIER' } }],
      }),
    );
    const result = await runToExit(['check-config', '--online', '--config', file]);
    assert.equal(result.code, 0, result.stderr.join('\n'));
    assert.equal(result.stdout.length, 3);
    assert.match(result.stdout[1]!, /^ok: Kafka answers \(1 brokers\); topics exist/);
    assert.match(result.stdout[2]!, /^ok: connection "main"/);
  });

  test('a source topic that does not exist', async () => {
    assertOneLine(
      await runToExit(['check-config', '--online', '--config', writeConfig(rawConfig(`${topic}-nope`, sim, ['vip']))]),
      'kafka.topics.0',
      `${topic}-nope`,
    );
  });

  test('an account that does not answer fails after --timeout instead of waiting forever', async () => {
    const file = writeConfig(rawConfig(topic, `http://127.0.0.1:${await freePort()}`, ['vip']));
    const started = Date.now();
    const result = await runToExit(['check-config', '--online', '--timeout', '2', '--config', file], 30_000);
    assertOneLine(result, 'connections.main.apiUrl', 'within 2 s');
    assert.equal(result.code, 1);
    assert.ok(Date.now() - started < 25_000);
  });

  test('an account that refuses the token fails after --timeout, saying so', async () => {
    const file = writeConfig(
      rawConfig(topic, sim, ['vip'], {
        connections: { main: { apiUrl: sim.url, apiKey: { value: 'not-the-token' }, privacyAcknowledged: true } },
      }),
    );
    const result = await runToExit(['check-config', '--online', '--timeout', '2', '--config', file], 30_000);
    assertOneLine(result, 'connections.main.apiUrl', '403');
    assert.equal(result.code, 1);
  });

  test('a broker that does not answer fails after --timeout', async () => {
    const file = writeConfig(
      rawConfig(topic, sim, ['vip'], { kafka: { brokers: [`127.0.0.1:${await freePort()}`], topics: [topic] } }),
    );
    const result = await runToExit(['check-config', '--online', '--timeout', '3', '--config', file], 30_000);
    assertOneLine(result, 'kafka.brokers');
    assert.equal(result.code, 1);
  });
});

describe('an unreachable account at start-up', needsBroker, () => {
  test('is waited for (not ready, no exit), and the sync becomes ready once the account answers', async () => {
    const { kafka, uniqueTopic, createTopic } = await import('../support/harness.js');
    const topic = uniqueTopic('wait-account');
    const admin = kafka().admin();
    await admin.connect();
    await createTopic(admin, topic, 1);
    await admin.disconnect();
    const port = await freePort();
    const config = rawConfig(topic, `http://127.0.0.1:${port}`, ['vip'], {
      http: { host: '127.0.0.1', port: 0, probeIntervalMs: 500 },
    });
    const child = runCli(['run', '--config', writeConfig(config)]);
    let late: Simulator | undefined;
    try {
      await waitForLog(child, 'The ActiveCampaign account is not reachable yet; waiting');
      const serving = child.stderr.map(jsonLine).find((l) => l.msg?.startsWith('Serving /metrics'));
      assert.ok(serving?.port, 'the HTTP server is up while it waits');
      const readyz = `http://127.0.0.1:${serving.port}/readyz`;
      assert.equal((await fetch(readyz)).status, 503, 'not ready while the account is unreachable');
      const waiting = () => child.stderr.filter((l) => l.includes('not reachable yet; waiting')).length;
      await eventually(() => waiting() >= 2, 'a second attempt, still waiting'); // retries, and says so
      assert.equal(child.proc.exitCode, null, 'the process stays up');

      late = await startSimulator({ port, lists: [{ id: '1', name: 'L1' }] });
      await waitForLog(child, 'The sync is running');
      await eventually(async () => (await fetch(readyz)).status === 200, '/readyz to answer 200', 30_000);
      child.proc.kill('SIGTERM');
      assert.equal((await child.exited).code, 0);
    } finally {
      await child.kill();
      await late?.close();
    }
  });
});
