import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createMetrics } from '../../src/observability/metrics.js';
import type { ReadinessStatus } from '../../src/observability/readiness.js';
import { startHttpServer } from '../../src/observability/server.js';
import { eventually } from '../support/harness.js';

const quiet = pino({ level: 'silent' });

test('/metrics serves the registry, /readyz follows readiness, unknown paths are 404', async () => {
  const metrics = createMetrics();
  metrics.eventsConsumed.inc({ topic: 't', result: 'delivered' }, 7);
  let status: ReadinessStatus = { ready: false, reasons: ['Kafka is not reachable: ECONNREFUSED'] };
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    readiness: () => status,
    log: quiet,
  });
  const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;
  try {
    const m = await fetch(url('/metrics'));
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
    const text = await m.text();
    assert.match(text, /^ac_list_sync_events_consumed_total\{topic="t",result="delivered"\} 7$/m);
    assert.match(text, /^ac_list_sync_process_cpu_seconds_total /m, 'process default metrics carry the prefix');

    const notReady = await fetch(url('/readyz'));
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { ready: false, reasons: ['Kafka is not reachable: ECONNREFUSED'] });
    status = { ready: true, reasons: [] };
    const ready = await fetch(url('/readyz'));
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true });

    assert.equal((await fetch(url('/healthz'))).status, 200);
    assert.equal((await fetch(url('/nope'))).status, 404);
    assert.equal((await fetch(url('/metrics'), { method: 'POST' })).status, 405);
  } finally {
    await server.close();
    await server.close();
  }
  await assert.rejects(fetch(url('/healthz')), 'closed means closed');
});

test('/healthz answers 503 after the event loop was blocked past the bound, and the body says how long', async () => {
  const metrics = createMetrics();
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    readiness: () => ({ ready: true, reasons: [] }),
    log: quiet,
    maxEventLoopDelayMs: 150,
  });
  try {
    const healthz = () => fetch(`http://127.0.0.1:${server.port}/healthz`);
    assert.equal((await healthz()).status, 200);
    // The delay monitor records a delay from its second tick on: let it tick (resolution 20 ms) before blocking.
    await new Promise((r) => setTimeout(r, 100));
    const until = Date.now() + 400;
    while (Date.now() < until); // block the loop
    let body: { eventLoopDelayMaxMs?: number } = {};
    await eventually(
      async () => {
        const res = await healthz();
        body = (await res.json()) as typeof body;
        return res.status === 503;
      },
      '/healthz to report the blocked event loop',
      5_000,
      20,
    );
    assert.ok((body.eventLoopDelayMaxMs ?? 0) >= 150, JSON.stringify(body));
  } finally {
    await server.close();
  }
});

test('a port already in use fails start-up instead of serving nothing', async () => {
  const metrics = createMetrics();
  const first = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    readiness: () => ({ ready: true, reasons: [] }),
    log: quiet,
  });
  try {
    await assert.rejects(
      startHttpServer({
        host: '127.0.0.1',
        port: first.port,
        registry: metrics.registry,
        readiness: () => ({ ready: true, reasons: [] }),
        log: quiet,
      }),
      /EADDRINUSE/,
    );
  } finally {
    await first.close();
  }
});
