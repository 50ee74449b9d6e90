import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ConsentTopic } from '../../src/consent/topic.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { kafka } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * Issue 19, opt-out feedback, against the real broker and the simulator: a person unsubscribes themselves, the
 * simulator posts ActiveCampaign's unsubscribe webhook to the service, and the next add of that person is kept
 * out without a refused import (CONSENT_OPTED_OUT from the membership read). A second person whose webhook never
 * arrived is the control: their add is refused by the import first, as before.
 */
const TOKEN = 'webhook-token-for-the-test';
const w = world({
  segments: ['vip'],
  simulator: { timeScale: 20, lists: ['1', '2'].map((id) => ({ id, name: `L${id}` })) },
});

let clock = Date.parse('2026-12-01T10:00:00Z');
const event = (email: string, op: 'add' | 'remove') => {
  const occurredAt = (clock += 1_000);
  return {
    key: email,
    value: JSON.stringify({
      eventId: `e-${email}-${occurredAt}`,
      occurredAt: new Date(occurredAt).toISOString(),
      segmentId: 'vip',
      op,
      profile: { id: email.split('@')[0], email },
    }),
  };
};

test('after a webhook opt-out, the next add is kept out without a refused import; every instance reads the opt-out', async () => {
  const topic = await w.topic('optout');
  const consentTopic = `${topic}.consent`;
  const service = await w.service(topic, {
    consent: {
      enabled: true,
      topic: consentTopic,
      port: 0,
      host: '127.0.0.1',
      token: { value: TOKEN },
      refreshMs: 1_000,
    },
  });
  const dlq = await w.reader(`${topic}.dlq`);
  const settle = () => w.committed(service, 'every event to settle');
  const ann = 'ann@example.com'; // her opt-out reaches the service by webhook
  const bob = 'bob@example.com'; // the control: his webhook is never sent
  w.defer(async () => w.sim.configure({ unsubscribeWebhookUrl: null }));
  assert.ok(service.webhookPort, 'the webhook listens');
  await w.produce(topic, [event(ann, 'add'), event(bob, 'add')]);
  await settle();
  assert.equal(w.sim.snapshot().lists['1']!.members[ann]?.status, 1);

  w.sim.personChange({ email: bob, list: '1', status: 2, source: 'person' });
  w.sim.configure({
    unsubscribeWebhookUrl: `http://127.0.0.1:${service.webhookPort}/webhooks/activecampaign/main/${TOKEN}`,
  });
  w.sim.personChange({ email: ann, list: '1', status: 2, source: 'person' });
  await w.until(() => w.sim.snapshot().counters.webhooksSent === 1, 'the webhook to be answered 2xx');
  assert.equal(w.sim.snapshot().counters.webhooksFailed, 0);

  const refusedBefore = w.sim.snapshot().counters.contactsRefused;
  await w.produce(topic, [event(ann, 'add'), event(bob, 'add')]);
  await settle();
  await dlq.until(2);
  const codes = new Map(
    dlq.records.map((r) => [
      (JSON.parse(r.value!.toString()) as { profile: { email: string } }).profile.email,
      r.headers?.['dlq.error.code']?.toString(),
    ]),
  );
  assert.equal(codes.get(ann), 'CONSENT_OPTED_OUT', 'the opt-out stands');
  assert.equal(codes.get(bob), 'CONSENT_OPTED_OUT', 'the control ends the same way');
  assert.equal(
    w.sim.snapshot().counters.contactsRefused - refusedBefore,
    1,
    'one refused import contact: bob, whose webhook never came; none for ann',
  );
  const members = w.sim.snapshot().lists['1']!.members;
  assert.equal(members[ann]?.status, 2);
  assert.equal(members[ann]?.changedBy, 'person', 'nothing of the service touched her membership');
  assert.equal(w.sim.snapshot().counters.forcedResubscribes, 0);

  // Another instance reads the consent topic in full at its start.
  const other = new ConsentTopic({
    kafka: kafka(),
    admin: w.admin,
    producer: { sendBatch: () => Promise.reject(new Error('read only')) },
    topic: consentTopic,
    groupPrefix: `${topic}-other`,
    refreshMs: 60_000,
    metrics: createMetrics(),
    log: pino({ level: 'silent' }),
  });
  await other.start();
  try {
    assert.ok(other.optedOut('main', ann, '1'), 'the opt-out is in the topic');
    assert.equal(other.optedOut('main', ann, '2'), undefined, 'of that list only');
    assert.equal(other.optedOut('main', bob, '1'), undefined);
  } finally {
    await other.close(0);
  }
});
