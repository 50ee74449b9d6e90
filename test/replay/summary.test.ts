import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { EventRef } from '../../src/ingest/source.js';
import { createMetrics } from '../../src/observability/metrics.js';
import {
  countsFromMetrics,
  DeliveredByList,
  EXIT,
  exitCodeOf,
  formatSummary,
  type ReplaySummary,
} from '../../src/replay/summary.js';

const ref = (exportName: string, key: string | null): EventRef => ({
  exportName,
  generation: 1,
  share: 0,
  occurredAt: 0,
  message: {
    topic: 't',
    partition: 0,
    offset: 0,
    key: key === null ? null : Buffer.from(key),
    value: null,
    headers: {},
    timestamp: 0,
  },
});

const config = parseConfig({
  kafka: { brokers: ['k:9092'], topics: ['t'] },
  connections: { main: { apiUrl: 'http://sim', apiKey: { value: 'secret-1' }, privacyAcknowledged: true } },
  exports: [
    { name: 'vip', segmentId: 'vip', connection: 'main', listId: '3' },
    { name: 'news', segmentId: 'news', connection: 'main', listId: '5' },
    { name: 'off', segmentId: 'off', connection: 'main', listId: '6', enabled: false },
  ],
});

test('delivered changes and distinct contacts per list', () => {
  const d = new DeliveredByList();
  d.add([ref('vip', 'p1'), ref('vip', 'p1'), ref('vip', 'p2'), ref('news', null)]);
  assert.deepEqual(d.counts(config.exports), [
    { export: 'vip', connection: 'main', listId: '3', events: 3, contacts: 2, capped: false },
    { export: 'news', connection: 'main', listId: '5', events: 1, contacts: 0, capped: false },
  ]);
});

test("dead letters and API requests come from the run's metrics", async () => {
  const m = createMetrics();
  m.deadLetters.inc({ stage: 'map', code: 'UNMAPPED_SEGMENT' }, 3);
  m.deadLetters.inc({ stage: 'decode', code: 'NOT_JSON' });
  m.apiRequests.inc({ connection: 'main', endpoint: 'bulk_import', status: '200' }, 4);
  m.apiRequests.inc({ connection: 'main', endpoint: 'bulk_import', status: '429' });
  m.apiRequests.inc({ connection: 'main', endpoint: 'import_info', status: '200' }, 9);
  const counts = await countsFromMetrics(m);
  assert.deepEqual(counts.deadLetters, [
    { stage: 'map', code: 'UNMAPPED_SEGMENT', count: 3 },
    { stage: 'decode', code: 'NOT_JSON', count: 1 },
  ]);
  assert.deepEqual(counts.api, { requests: 14, byEndpoint: { bulk_import: 5, import_info: 9 }, throttled: 1 });
});

test('the exit code says whether anything was dead-lettered, or the run did not reach its end', () => {
  const summary: ReplaySummary = {
    group: 'live-replay-x',
    complete: true,
    total: 10,
    events: { consumed: 10, delivered: 10, deadLettered: 0, skipped: 0 },
    lists: [{ export: 'vip', connection: 'main', listId: '3', events: 10, contacts: 7, capped: false }],
    deadLetters: [],
    api: { requests: 4, byEndpoint: { bulk_import: 1, import_info: 3 }, throttled: 0 },
    lostToRetention: [],
    elapsedMs: 4_200,
  };
  assert.equal(exitCodeOf(summary), EXIT.clean);
  assert.equal(exitCodeOf({ ...summary, events: { ...summary.events, deadLettered: 1 } }), EXIT.deadLettered);
  assert.equal(
    exitCodeOf({ ...summary, complete: false, events: { ...summary.events, deadLettered: 1 } }),
    EXIT.incomplete,
  );
  const text = formatSummary(summary).join('\n');
  assert.match(text, /^Replay complete\./);
  assert.match(text, /Events: +10 consumed of 10 offsets in range \(delivered 10, dead-lettered 0, skipped 0\)/);
  assert.match(text, /List 3 \(vip, main\): 10 changes delivered, 7 contacts/);
  assert.match(text, /Dead letters: +none/);
  assert.match(text, /API requests: +4 \(bulk_import 1, import_info 3\), 0 answered 429/);
  assert.match(text, /Elapsed: +0:04/);
  assert.doesNotMatch(text, /retention/);
  const lost = formatSummary({
    ...summary,
    complete: false,
    lostToRetention: [{ topic: 'events', partition: 2, start: 1_000, end: 5_000 }],
  }).join('\n');
  assert.match(lost, /^Replay stopped before the end/);
  assert.match(lost, /Lost to retention: events\/2 1,000–5,000 \(deleted by the topic's retention/);
});
