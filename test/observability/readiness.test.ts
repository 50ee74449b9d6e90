import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Admin } from 'kafkajs';
import pino from 'pino';
import type { Answer } from '../../src/deliver/client.js';
import { classifyResponse } from '../../src/deliver/classify.js';
import { RateBudget } from '../../src/deliver/budget.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { Readiness } from '../../src/observability/readiness.js';
import { parseMetrics, total } from '../../src/observability/scrape.js';

function fakeAdmin(state: { down: boolean; high: number; committed: number }): Admin {
  const fail = () => Promise.reject(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:39092'));
  return {
    connect: () => (state.down ? fail() : Promise.resolve()),
    disconnect: () => Promise.resolve(),
    fetchOffsets: () =>
      state.down
        ? fail()
        : Promise.resolve([{ topic: 't', partitions: [{ partition: 0, offset: String(state.committed) }] }]),
    fetchTopicOffsets: () =>
      state.down
        ? fail()
        : Promise.resolve([{ partition: 0, offset: String(state.high), high: String(state.high), low: '0' }]),
  } as unknown as Admin;
}

const answer = (status: number): Answer<never> => ({
  status,
  verdict: classifyResponse(status, {}, '0.1', Date.now()),
  body: undefined,
  latencyMs: 1,
});

function setup() {
  const kafka = { down: false, high: 120, committed: 100 };
  const token = { status: 200, calls: 0 };
  const metrics = createMetrics();
  const account = {
    down: false,
    budget: new RateBudget({ requestsPerSecond: 1000, importsPerMinute: 100, singleImportsPerMinute: 20 }),
  };
  const consumer = { connected: true };
  const readiness = new Readiness({
    admin: fakeAdmin(kafka),
    groupId: 'g',
    topics: ['t'],
    fromBeginning: true,
    clients: new Map([['main', { fields: async () => (token.calls++, answer(token.status)) }]]),
    accounts: new Map([['main', account]]),
    consumer,
    intervalMs: 60_000,
    metrics,
    log: pino({ level: 'silent' }),
  });
  return { kafka, token, metrics, account, consumer, readiness };
}

test('ready once both probes pass; the Kafka probe also sets committed lag', async () => {
  const { readiness, metrics, token } = setup();
  assert.equal(readiness.status().ready, false, 'not ready before the first probe');
  await readiness.start();
  assert.deepEqual(readiness.status(), { ready: true, reasons: [] });
  const samples = parseMetrics(await metrics.registry.metrics());
  assert.equal(total(samples, 'ac_list_sync_consumer_lag_messages', { topic: 't', partition: '0' }), 20);
  assert.equal(total(samples, 'ac_list_sync_ready'), 1);
  assert.equal(token.calls, 1);
  await readiness.close();
});

test('a refused token, a dead broker, a disconnected consumer and a failing account each say why not ready', async () => {
  const { readiness, kafka, token, consumer, account, metrics } = setup();
  token.status = 403;
  kafka.down = true;
  consumer.connected = false;
  account.down = true;
  await readiness.start();
  const { ready, reasons } = readiness.status();
  assert.equal(ready, false);
  assert.equal(reasons.length, 4, reasons.join(' | '));
  assert.match(reasons.join('\n'), /Kafka is not reachable: .*ECONNREFUSED/);
  assert.match(reasons.join('\n'), /refused the API token \(HTTP 403\)/);
  assert.match(reasons.join('\n'), /consumer is not connected/);
  assert.match(reasons.join('\n'), /delivery is failing/);
  const samples = parseMetrics(await metrics.registry.metrics());
  assert.equal(total(samples, 'ac_list_sync_token_accepted', { connection: 'main' }), 0);
  assert.equal(total(samples, 'ac_list_sync_kafka_reachable'), 0);
  assert.equal(total(samples, 'ac_list_sync_probe_failures_total'), 2);
  await readiness.close();
});

test('an account that is unreachable (503) is not ready; a 429 on the probe keeps the last state and slows the budget', async () => {
  const { readiness, token, account } = setup();
  await readiness.start();
  assert.equal(readiness.status().ready, true);
  token.status = 429;
  await (readiness as unknown as { round(): Promise<void> }).round();
  assert.equal(readiness.status().ready, true, 'a 429 says nothing about the token');
  assert.ok(account.budget.readyAt('request', Date.now()) > Date.now(), 'Retry-After honoured by the shared budget');
  token.status = 503;
  await (readiness as unknown as { round(): Promise<void> }).round();
  assert.deepEqual(readiness.status().reasons, ['connection "main": ActiveCampaign is not reachable (HTTP 503)']);
  token.status = 200;
  await (readiness as unknown as { round(): Promise<void> }).round();
  assert.equal(readiness.status().ready, true, 'ready again once the account answers');
  await readiness.close();
});

test('a fatal state is not ready for good', async () => {
  const { readiness } = setup();
  await readiness.start();
  readiness.fatal('the Kafka consumer crashed and does not restart');
  assert.deepEqual(readiness.status().reasons, ['fatal: the Kafka consumer crashed and does not restart']);
  await readiness.close();
});

test('a Kafka call that hangs (kafkajs retrying a dead cluster) is reported after the probe timeout, not waited for', async () => {
  const { metrics } = setup();
  let calls = 0;
  const hanging = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    fetchOffsets: () => (calls++, new Promise(() => undefined)),
    fetchTopicOffsets: () => new Promise(() => undefined),
  } as unknown as Admin;
  const readiness = new Readiness({
    admin: hanging,
    groupId: 'g',
    topics: ['t'],
    fromBeginning: true,
    clients: new Map(),
    accounts: new Map(),
    consumer: { connected: true },
    intervalMs: 100,
    metrics,
    log: pino({ level: 'silent' }),
  });
  await readiness.start();
  assert.deepEqual(readiness.status().reasons, ['Kafka is not reachable: no answer within 2000 ms']);
  await (readiness as unknown as { round(): Promise<void> }).round();
  assert.equal(calls, 1, 'no second call while the first is still out');
  await readiness.close();
});

test('the token probe gets its turn in a slow budget whose every slot another sender takes at once', async () => {
  const { readiness, token, account } = setup();
  // 4 requests a second, and a sender (the account's loop) that takes each slot the moment it is ready.
  account.budget = new RateBudget({ requestsPerSecond: 4, importsPerMinute: 100, singleImportsPerMinute: 20 });
  let stolen = 0;
  let busy = true;
  const loop = () => {
    if (!busy) return;
    const now = Date.now();
    const ready = account.budget.readyAt('request', now);
    if (ready <= now) {
      account.budget.spend('request', now);
      stolen++;
    }
    setTimeout(loop, Math.max(0, ready - now));
  };
  loop();
  await new Promise((r) => setTimeout(r, 300));
  await readiness.start();
  busy = false;
  assert.equal(token.calls, 1, 'the probe went');
  assert.equal(readiness.status().ready, true);
  assert.ok(stolen >= 2, `the other sender kept sending (${stolen})`);
  await readiness.close();
});

test('a Retry-After longer than the probe deadline skips the round instead of sending inside it', async () => {
  const { readiness, token, account } = setup();
  account.budget.throttled(120_000, Date.now()); // longer than the 60 s probe interval
  await readiness.start();
  assert.equal(token.calls, 0, 'nothing sent inside the Retry-After');
  assert.match(readiness.status().reasons.join('\n'), /token has not been checked yet/);
  await readiness.close();
});

test('a token refused on a delivery request is reported at once; an accepted probe lets the paused delivery try again', async () => {
  const { readiness, token, account } = setup();
  let retried = 0;
  const failing = Object.assign(account, {
    failing: 'AUTH_FAILED' as string | undefined,
    answeredElsewhere: () => retried++,
  });
  token.status = 403;
  failing.down = true;
  await readiness.start();
  assert.equal(retried, 0, 'a refused probe does not wake delivery');
  assert.match(readiness.status().reasons.join('\n'), /refused the API token \(HTTP 403\)/);
  assert.equal(readiness.status().reasons.filter((r) => r.includes('refused the API token')).length, 1, 'said once');
  token.status = 200;
  await (readiness as unknown as { round(): Promise<void> }).round();
  assert.equal(retried, 1, 'the accepted token woke the paused delivery');
  assert.match(
    readiness.status().reasons.join('\n'),
    /delivery is failing/,
    'not ready until delivery itself succeeds',
  );
  failing.down = false;
  failing.failing = undefined;
  assert.equal(readiness.status().ready, true);
  await readiness.close();
});

test('a token refused on delivery before the probe saw it says so', async () => {
  const { readiness, account } = setup();
  await readiness.start();
  Object.assign(account, { down: true, failing: 'AUTH_FAILED' });
  assert.match(readiness.status().reasons.join('\n'), /refused the API token \(on a delivery request\)/);
  await readiness.close();
});

test('a probe whose wait for its slot ended late claims again, and gives up rather than crowd the next request', async () => {
  const { readiness, token, account } = setup();
  account.budget = new RateBudget({ requestsPerSecond: 4, importsPerMinute: 100, singleImportsPerMinute: 20 });
  account.budget.spend('request', Date.now()); // the next slot is 250 ms away; half a gap late is 125 ms
  const waits: number[] = [];
  const late = Object.assign(account, {
    budgetWait: (ms: number) => (waits.push(ms), new Promise<void>((r) => setTimeout(r, ms + 300))),
  });
  await readiness.start();
  assert.equal(token.calls, 1, 'the second claim found a free slot and went at once');
  assert.equal(waits.length, 1, 'one wait (overslept), then a claim that needed none');

  // A sender that takes every slot the moment it is ready: each claim must wait, each wait oversleeps.
  let busy = true;
  const loop = () => {
    if (!busy) return;
    const now = Date.now();
    const ready = account.budget.readyAt('request', now);
    if (ready <= now) account.budget.spend('request', now);
    setTimeout(loop, Math.max(0, ready - now));
  };
  loop();
  waits.length = 0;
  await (readiness as unknown as { round(): Promise<void> }).round();
  assert.equal(token.calls, 1, 'nothing sent next to the other requests');
  assert.equal(waits.length, 3, 'three claims, then the round gives up');
  late.budgetWait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  await (readiness as unknown as { round(): Promise<void> }).round();
  busy = false;
  assert.equal(token.calls, 2, 'a wait on time sends');
  await readiness.close();
});

test("a 429 on the probe is handed to the account's own handling when it has one", async () => {
  const { readiness, token, account } = setup();
  const seen: [string, number][] = [];
  Object.assign(account, { throttledElsewhere: (code: string, ms: number) => seen.push([code, ms]) });
  token.status = 429;
  await readiness.start();
  assert.equal(seen.length, 1);
  assert.equal(seen[0]![0], 'RATE_LIMITED');
  await readiness.close();
});
