import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { sampleEvents } from '../../src/dev/sample/events.js';
import { sumBy, total, type Sample } from '../../src/observability/scrape.js';
import type { Service } from '../support/harness.js';
import { world } from '../support/world.js';
import {
  alertRules,
  dashboardExpressions,
  getJson,
  memoryLogger,
  metricNames,
  scrape,
} from '../support/observability.js';

/**
 * One service on the real broker and the simulator, through traffic and failure paths (invalid records, an
 * invalid email, a contact ActiveCampaign refuses, 429s, a wrong token), then: /metrics against what the
 * simulator and the dead-letter topic saw, the dashboard's and alerts' metrics against the scrape, and the logs
 * of the whole run against the API key and every email.
 */
const segments = ['vip', 'newsletter'];
const token = `tok-${randomUUID()}`;
// The account allows 1 request/s (×5), bursts of 3 (the start-up checks send 3 at once): the service paces at
// 4.5/s (×5), so it meets 429s and must slow down.
const w = world({
  segments,
  simulator: {
    timeScale: 5,
    apiToken: token,
    lists: [
      { id: '1', name: 'VIP' },
      { id: '2', name: 'Newsletter' },
    ],
    limits: { requestsPerSecond: 1, burst: 3 },
  },
});
const { log, lines } = memoryLogger('debug');
const emails = new Set<string>();
let service: Service;
let topic: string;
let produced = 0;

const event = (i: number, email: string, segmentId = 'vip') =>
  JSON.stringify({
    eventId: `x-${i}`,
    occurredAt: new Date(Date.parse('2026-11-28T11:00:00Z') + i).toISOString(),
    segmentId,
    op: 'add',
    profile: { id: `x-${i}`, email },
  });

async function send(messages: { key: string | null; value: string | null }[]): Promise<void> {
  await w.produce(topic, messages);
  produced += messages.length;
}

// One service for the whole file, started after the world's own set-up (and stopped by it after the last test).
w.before(async () => {
  w.sim.seedContact({ email: 'opted.out@example.com', lists: { '1': 2 } });
  emails.add('opted.out@example.com');
  topic = await w.topic('obs', 2);
  const sample = [
    ...sampleEvents({
      events: 1_200,
      profiles: 400,
      segments,
      removeRatio: 0.25,
      reentry: false,
      seed: 6,
      start: Date.parse('2026-11-28T10:00:00Z'),
    }),
  ];
  for (const e of sample) emails.add(e.value.profile.email);
  const bad = ['Broken(Email)@Example.com', 'nobody-at-example.com', 'Mixed.Case@Example.COM'];
  for (const e of bad) emails.add(e);
  await send([
    ...sample.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })),
    { key: 'b1', value: 'not json {"email":"half.record@exa' },
    { key: 'b2', value: event(1, bad[0]!) },
    { key: 'b3', value: event(2, bad[1]!) },
    { key: 'b4', value: event(3, 'opted.out@example.com') },
    { key: 'b5', value: event(4, bad[2]!, 'newsletter') },
  ]);
  emails.add('half.record@exa');
  const config = w.config(topic, {
    http: { host: '127.0.0.1', port: 0, probeIntervalMs: 500 },
    buffer: { maxContacts: 50, lingerMs: 200 },
    log: { level: 'debug', showEmails: false },
  });
  service = await w.start(config, { log });
});

const caughtUp = () => w.caughtUp(service);

test('the service turns ready, /healthz is alive, and all traffic settles', async () => {
  await w.until(
    async () => (await getJson(service.httpPort, '/readyz')).status === 200,
    '/readyz to answer 200',
    60_000,
  );
  const health = await getJson(service.httpPort, '/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.body.alive, true);
  await w.until(caughtUp, 'committed offsets to reach the end of the topic');
  assert.ok(
    w.sim.snapshot().counters.rateLimited429 > 0,
    'the account answered 429s (the failure path this run wants)',
  );
});

test('a wrong token makes /readyz answer 503 with the reason, and 200 once the token is right again', async () => {
  w.sim.configure({ apiToken: `wrong-${randomUUID()}` });
  await send([{ key: 'late-1', value: event(10, 'late.one@example.com') }]);
  emails.add('late.one@example.com');
  let body: Record<string, unknown> = {};
  await w.until(
    async () => {
      const r = await getJson(service.httpPort, '/readyz');
      body = r.body;
      // The token probe's own finding (HTTP 403), not only delivery's: an idle service notices a revoked token.
      return r.status === 503 && JSON.stringify(r.body).includes('refused the API token (HTTP 403)');
    },
    '/readyz to report the refused token',
    90_000,
  ); // the probe claims its turn in a budget the 429s above slowed
  assert.equal(body.ready, false);
  await w.until(
    async () =>
      total(await scrape(service.httpPort), 'ac_list_sync_api_requests_total', {
        endpoint: 'bulk_import',
        status: '403',
      }) > 0,
    'an import to meet the 403 too',
    30_000,
  );
  assert.equal(
    w.sim.snapshot().lists['1']?.members['late.one@example.com'],
    undefined,
    'nothing got through with the wrong token',
  );

  w.sim.configure({ apiToken: token });
  await w.until(
    async () => (await getJson(service.httpPort, '/readyz')).status === 200,
    '/readyz to answer 200 again',
    60_000,
  );
  await w.until(
    () => w.sim.snapshot().lists['1']?.members['late.one@example.com']?.status === 1,
    'the held-back contact to arrive',
    60_000,
  );
  await w.until(caughtUp, 'committed offsets to reach the end again');
});

interface DeadLetterSeen {
  stage: string;
  code: string;
}

async function deadLetterTopic(): Promise<DeadLetterSeen[]> {
  const dlq = `${topic}.dlq`;
  const count = (await w.admin.fetchTopicOffsets(dlq)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const records = count ? await w.read(dlq, count) : [];
  return records.map((r) => ({ stage: r.headers[DLQ_HEADERS.stage] ?? '', code: r.headers[DLQ_HEADERS.code] ?? '' }));
}

/** The scrape and the simulator agree on every request, when no request is in flight (probes keep running). */
function compareRequests(samples: Sample[]): string[] {
  const sim$ = w.sim.snapshot().counters;
  const problems: string[] = [];
  const ours = sumBy(samples, 'ac_list_sync_api_requests_total', ['status']);
  const statuses = new Set([...ours.keys(), ...Object.keys(sim$.byStatus)]);
  for (const s of statuses)
    if ((ours.get(s) ?? 0) !== (sim$.byStatus[s] ?? 0))
      problems.push(`status ${s}: ours ${ours.get(s) ?? 0}, simulator ${sim$.byStatus[s] ?? 0}`);
  const endpoints: Record<string, string> = {
    bulk_import: 'POST /import/bulk_import',
    import_info: 'GET /import/info',
    fields: 'GET /fields',
    list: 'GET /lists/{id}',
  };
  const byEndpoint = sumBy(samples, 'ac_list_sync_api_requests_total', ['endpoint']);
  for (const [ep, route] of Object.entries(endpoints)) {
    if ((byEndpoint.get(ep) ?? 0) !== (sim$.byEndpoint[route] ?? 0))
      problems.push(`${ep}: ours ${byEndpoint.get(ep) ?? 0}, simulator ${sim$.byEndpoint[route] ?? 0}`);
  }
  if (total(samples, 'ac_list_sync_api_requests_total') !== sim$.requests)
    problems.push(`requests: ours ${total(samples, 'ac_list_sync_api_requests_total')}, simulator ${sim$.requests}`);
  return problems;
}

test('/metrics counters match what the simulator and the dead-letter topic saw', async () => {
  let samples: Sample[] = [];
  let problems: string[] = [];
  await w.until(
    async () => {
      samples = await scrape(service.httpPort);
      problems = compareRequests(samples);
      return problems.length === 0;
    },
    `requests in /metrics to match the simulator's counters (${problems.join('; ')})`,
    20_000,
    50,
  );

  const sim$ = w.sim.snapshot();
  assert.equal(total(samples, 'ac_list_sync_api_requests_total', { status: '429' }), sim$.counters.rateLimited429);
  assert.ok(total(samples, 'ac_list_sync_api_throttled_total', { code: 'RATE_LIMITED' }) > 0, 'throttling recorded');
  assert.equal(
    total(samples, 'ac_list_sync_import_confirmations_total', { status: 'completed' }),
    sim$.imports.completed,
  );
  assert.equal(total(samples, 'ac_list_sync_import_confirmations_total', { status: 'failed' }), sim$.imports.failed);
  assert.equal(
    total(samples, 'ac_list_sync_import_confirmations_total', { status: 'interrupted' }),
    sim$.imports.interrupted,
  );
  const imports = total(samples, 'ac_list_sync_api_requests_total', { endpoint: 'bulk_import' });
  assert.equal(total(samples, 'ac_list_sync_flushes_total'), imports, 'one flush per bulk import request');
  assert.equal(total(samples, 'ac_list_sync_batch_contacts_count'), imports);
  assert.ok(total(samples, 'ac_list_sync_rate_budget_wait_seconds_total') > 0, 'due imports waited on the budget');

  const seen = await deadLetterTopic();
  const byCode = sumBy(samples, 'ac_list_sync_dead_letters_total', ['stage', 'code']);
  const topicByCode = new Map<string, number>();
  for (const d of seen) topicByCode.set(`${d.stage}/${d.code}`, (topicByCode.get(`${d.stage}/${d.code}`) ?? 0) + 1);
  assert.deepEqual(new Map([...byCode].sort()), new Map([...topicByCode].sort()), 'dead letters by stage and code');
  assert.equal(topicByCode.get('decode/NOT_JSON'), 1);
  assert.equal(topicByCode.get('validate/INVALID_EVENT'), 2, 'the two invalid emails');
  const late = seen.filter((d) => d.stage !== 'decode' && d.stage !== 'validate');
  assert.equal(
    late.length,
    1,
    `only the opted-out contact ActiveCampaign refused is dead-lettered after validation: ${JSON.stringify(late)}`,
  );

  const consumed = sumBy(samples, 'ac_list_sync_events_consumed_total', ['result']);
  const early = seen.filter((d) => d.stage === 'decode' || d.stage === 'validate').length;
  assert.equal(consumed.get('invalid'), early);
  assert.equal(consumed.get('dead_lettered'), seen.length - early);
  // leave_ignored: removes of contacts ActiveCampaign never had, settled unsent (a bulk import would create them).
  const settled =
    (consumed.get('delivered') ?? 0) +
    (consumed.get('invalid') ?? 0) +
    (consumed.get('unmapped') ?? 0) +
    (consumed.get('dead_lettered') ?? 0) +
    (consumed.get('leave_ignored') ?? 0);
  assert.equal(settled, produced, 'every produced event settled exactly once (one export per segment)');
  const latencies = total(samples, 'ac_list_sync_end_to_end_seconds_count', { from: 'append' });
  assert.ok(latencies > 0);
  assert.equal(total(samples, 'ac_list_sync_end_to_end_seconds_count', { from: 'event' }), latencies);
  assert.equal(sumBy(samples, 'ac_list_sync_consumer_lag_messages', ['partition']).size, 2, 'lag per partition');
  // The lag probe runs every probeIntervalMs: wait for a round after the last commit.
  await w.until(
    async () => {
      const now = await scrape(service.httpPort);
      return total(now, 'ac_list_sync_consumer_lag_messages') === 0 && total(now, 'ac_list_sync_pending_events') === 0;
    },
    'lag and unsettled events to read 0 once caught up',
    10_000,
  );
});

test('every metric used by the dashboard and the alert rules is in the scrape', async () => {
  const samples = await scrape(service.httpPort);
  const present = new Set(samples.map((s) => s.name));
  const used = metricNames([...dashboardExpressions(), ...alertRules().map((r) => r.expr)]);
  assert.ok(used.size >= 20, `only ${used.size} metric names extracted`);
  const missing = [...used].filter((n) => !present.has(n));
  assert.deepEqual(
    missing,
    [],
    `queried by the dashboard or the alerts but absent from /metrics: ${missing.join(', ')}`,
  );
});

test('the logs of the whole run carry neither the API key nor any email, failure paths included', async () => {
  await service.stop();
  const all = lines.join('');
  const records = lines.map((l) => JSON.parse(l) as { msg: string; level: number });
  // The failure paths really were logged: otherwise an empty log would pass.
  const said = (pattern: RegExp) =>
    assert.ok(
      records.some((r) => pattern.test(r.msg)),
      `no log line matches ${pattern}`,
    );
  said(/A record was refused/);
  said(/ActiveCampaign refused the API token/);
  said(/The ActiveCampaign account is failing/);
  said(/ActiveCampaign asked us to slow down/);
  said(/Stopped/);
  assert.ok(
    lines.some((l) => (JSON.parse(l) as { level: number }).level >= 40 && l.includes('o***@e***.com')),
    'the contact ActiveCampaign refused is logged as a warning or an error, masked',
  );

  assert.ok(!all.includes(token), 'the API key appears in the logs');
  const leaked = [...emails].filter((e) => all.includes(e) || all.toLowerCase().includes(e.toLowerCase()));
  assert.deepEqual(leaked, [], `raw emails in the logs: ${leaked.slice(0, 5).join(', ')}`);
});
