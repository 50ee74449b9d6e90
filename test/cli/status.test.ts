import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { renderStatus, summarise } from '../../src/cli/status.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { parseMetrics } from '../../src/observability/scrape.js';
import { startHttpServer } from '../../src/observability/server.js';
import pino from 'pino';

async function snapshot(m: ReturnType<typeof createMetrics>, at: number) {
  return { at, samples: parseMetrics(await m.registry.metrics()) };
}

test('summarise turns two scrapes into rates, lag, buffers, budget and dead letters', async () => {
  const m = createMetrics();
  m.eventsConsumed.inc({ topic: 't', result: 'delivered' }, 100);
  m.deadLetters.inc({ stage: 'validate', code: 'INVALID_EVENT' }, 2);
  m.apiRequests.inc({ connection: 'main', endpoint: 'bulk_import', status: '200' }, 4);
  const before = await snapshot(m, 1_000_000);
  m.eventsConsumed.inc({ topic: 't', result: 'delivered' }, 50);
  m.eventsConsumed.inc({ topic: 't', result: 'invalid' }, 10);
  m.deadLetters.inc({ stage: 'validate', code: 'INVALID_EVENT' }, 10);
  m.apiRequests.inc({ connection: 'main', endpoint: 'bulk_import', status: '200' }, 8);
  m.budgetWaitSeconds.inc({ connection: 'main' }, 1);
  m.budgetUtilisation.set({ connection: 'main' }, 0.5);
  m.bufferedContacts.set({ connection: 'main' }, 42);
  m.bufferedBytes.set({ connection: 'main' }, 4096);
  m.consumerLag.set({ topic: 't', partition: '0' }, 7);
  m.consumerLag.set({ topic: 't', partition: '1' }, 3);
  m.accountDown.set({ connection: 'main', code: 'AUTH_FAILED' }, 1);
  m.ready.set(0);
  const after = await snapshot(m, 1_002_000);
  const s = summarise(before, after);
  assert.equal(s.seconds, 2);
  assert.equal(s.eventsPerSecond.get('delivered'), 25);
  assert.equal(s.eventsPerSecond.get('invalid'), 5);
  assert.equal(s.lag, 10);
  assert.deepEqual(s.worstPartitions, [
    ['t/0', 7],
    ['t/1', 3],
  ]);
  assert.deepEqual(s.buffered.get('main'), { contacts: 42, bytes: 4096, unconfirmed: 0 });
  assert.deepEqual(s.budget.get('main'), { pace: 0.5, waiting: 0.5, requestsPerSecond: 4, throttledPerSecond: 0 });
  assert.deepEqual(s.deadLetters, { total: 12, perSecond: 5, byCode: [['validate/INVALID_EVENT', 12]] });
  assert.deepEqual(s.accountsDown, ['main AUTH_FAILED']);
  assert.equal(s.ready, false);
  const screen = renderStatus(s, 'http://x/metrics');
  assert.ok(screen.split('\n').length <= 24, 'one screen');
  assert.match(screen, /NOT READY/);
  assert.match(screen, /Throughput\s+30 events\/s/);
  assert.match(screen, /Lag\s+10 messages/);
  assert.match(screen, /main\s+42 contacts/);
  assert.match(screen, /pace 50%/);
  assert.match(screen, /Dead letters 12 total, 5\/s/);
  assert.match(screen, /accounts failing: main AUTH_FAILED/);
});

const cli = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url));
function runCli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('`status --once` prints one summary of a live /metrics and exits 0', async () => {
  const m = createMetrics();
  m.ready.set(1);
  m.eventsConsumed.inc({ topic: 't', result: 'delivered' }, 5);
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: m.registry,
    readiness: () => ({ ready: true, reasons: [] }),
    log: pino({ level: 'silent' }),
  });
  try {
    const { code, out } = await runCli([
      'status',
      '--once',
      '--interval',
      '0.2',
      '--url',
      `http://127.0.0.1:${server.port}/metrics`,
    ]);
    assert.equal(code, 0);
    assert.match(out, /^ac-list-sync {2}READY/);
    assert.match(out, /Dead letters 0 total/);
    assert.ok(!out.includes('\u001b[2J'), 'no screen clearing when not on a terminal');
  } finally {
    await server.close();
  }
});

test('`status` against nothing listening says so and exits 1', async () => {
  const { code, err } = await runCli(['status', '--once', '--url', 'http://127.0.0.1:9/metrics']);
  assert.equal(code, 1);
  assert.match(err, /cannot read http:\/\/127\.0\.0\.1:9\/metrics/);
});
