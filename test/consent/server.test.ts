import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { startWebhookServer, type WebhookServer } from '../../src/consent/server.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { unsubscribeForm } from '../../packages/ac-simulator/src/webhook-sender.js';

const quiet = pino({ level: 'silent' });
const TOKEN = 's3cret-token-of-the-webhook';
const form = (over: Record<string, string> = {}) => {
  const p = new URLSearchParams(
    unsubscribeForm({
      contactId: '7',
      email: 'Ann@Example.com',
      listId: '3',
      at: Date.parse('2026-12-01T10:00:00Z'),
      source: 'public',
    }),
  );
  for (const [k, v] of Object.entries(over)) p.set(k, v);
  return p.toString();
};

describe('consent: the opt-out webhook endpoint', () => {
  let server: WebhookServer;
  let metrics: Metrics;
  const recorded: [string, string, string, number][] = [];
  const post = (path: string, body: string, type = 'application/x-www-form-urlencoded') =>
    fetch(`http://127.0.0.1:${server.port}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  const count = async (result: string) =>
    Number(
      (await metrics.registry.getSingleMetric('ac_list_sync_consent_webhook_requests_total')!.get()).values.find(
        (v) => v.labels.result === result,
      )?.value ?? 0,
    );

  before(async () => {
    metrics = createMetrics();
    server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      connections: new Set(['main']),
      token: () => TOKEN,
      maxBodyBytes: 2_048,
      ratePerSecond: 1_000,
      burst: 1_000,
      record: async (...args) => void recorded.push(args),
      metrics,
      log: quiet,
    });
  });
  after(() => server.close());

  it("records a person's own opt-out, with the email normalised and the date parsed", async () => {
    const res = await post(`/webhooks/activecampaign/main/${TOKEN}`, form());
    assert.equal(res.status, 200);
    assert.deepEqual(recorded.at(-1), ['main', 'ann@example.com', '3', Date.parse('2026-12-01T10:00:00Z')]);
    assert.equal(await count('recorded'), 1);
  });

  it('answers a missing token 401 and a wrong one 403, recording nothing', async () => {
    const before = recorded.length;
    const missing = await post('/webhooks/activecampaign/main', form());
    assert.equal(missing.status, 401);
    const wrong = await post(`/webhooks/activecampaign/main/${TOKEN}x`, form());
    assert.equal(wrong.status, 403);
    const prefix = await post(`/webhooks/activecampaign/main/${TOKEN.slice(0, -1)}`, form());
    assert.equal(prefix.status, 403);
    assert.equal(recorded.length, before);
    assert.equal(await count('unauthorized'), 3);
  });

  it('answers a malformed payload 400 (and never 410), recording nothing', async () => {
    const before = recorded.length;
    for (const bad of [
      form({ 'contact[email]': 'not-an-email' }),
      form({ list: 'x' }),
      form({ date_time: 'yesterday' }),
      'type=unsubscribe',
      '%%%',
    ]) {
      const res = await post(`/webhooks/activecampaign/main/${TOKEN}`, bad);
      assert.equal(res.status, 400, bad);
    }
    const json = await post(`/webhooks/activecampaign/main/${TOKEN}`, '{"type":"unsubscribe"}', 'application/json');
    assert.equal(json.status, 415);
    assert.equal(recorded.length, before);
  });

  it('answers an oversized payload 413 and stays up', async () => {
    const before = recorded.length;
    const big = form({ 'unsubscribe[reason]': 'x'.repeat(4_096) });
    const res = await post(`/webhooks/activecampaign/main/${TOKEN}`, big);
    assert.equal(res.status, 413);
    // Without a content-length (chunked): the body is cut off at the limit.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: `/webhooks/activecampaign/main/${TOKEN}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' },
        },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(1_024));
      req.end();
    });
    assert.equal(status, 413);
    assert.equal(recorded.length, before);
    assert.equal(
      (await post(`/webhooks/activecampaign/main/${TOKEN}`, form())).status,
      200,
      'the endpoint still answers',
    );
  });

  it('answers other events and other sources 200 without recording them; unknown routes and connections 404', async () => {
    const before = recorded.length;
    assert.equal((await post(`/webhooks/activecampaign/main/${TOKEN}`, form({ type: 'subscribe' }))).status, 200);
    assert.equal((await post(`/webhooks/activecampaign/main/${TOKEN}`, form({ initiated_by: 'api' }))).status, 200);
    assert.equal((await post(`/webhooks/activecampaign/main/${TOKEN}`, form({ initiated_by: 'system' }))).status, 200);
    assert.equal(recorded.length, before);
    assert.equal((await post(`/webhooks/activecampaign/other/${TOKEN}`, form())).status, 404);
    assert.equal((await post('/elsewhere', form())).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/webhooks/activecampaign/main/${TOKEN}`)).status, 405);
  });
});

describe('consent: the webhook is rate-limited and a failed write is a 503', () => {
  it('answers 429 over the rate and 503 when the record cannot be written', async () => {
    let t = 0;
    const metrics = createMetrics();
    const server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      connections: new Set(['main']),
      token: () => TOKEN,
      maxBodyBytes: 2_048,
      ratePerSecond: 1,
      burst: 2,
      now: () => t,
      record: () => Promise.reject(new Error('broker away')),
      metrics,
      log: quiet,
    });
    try {
      const post = () =>
        fetch(`http://127.0.0.1:${server.port}/webhooks/activecampaign/main/${TOKEN}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form(),
        });
      assert.equal((await post()).status, 503);
      assert.equal((await post()).status, 503);
      assert.equal((await post()).status, 429);
      t += 1_000; // one token back
      assert.equal((await post()).status, 503);
    } finally {
      await server.close();
    }
  });
});
