import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContactBuffer } from '../../src/buffer/contact-buffer.js';
import type { ContactUpdate } from '../../src/buffer/contact-entry.js';
import { trackBuffersPerList } from '../../src/observability/buffer-gauges.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { parseMetrics, sumBy } from '../../src/observability/scrape.js';

const update = (email: string, listId: string, seq: number): ContactUpdate<number> => ({
  email,
  listId,
  op: 'add',
  occurredAt: 1_000 + seq,
  seq,
  ref: seq,
  tags: [],
  fields: new Map(),
  excludeAutomations: false,
});

test('buffered contacts and bytes per list are computed at scrape time; configured lists show 0 when empty', async () => {
  const buffer = new ContactBuffer<number>({ maxContacts: 250, maxBytes: 399_999, lingerMs: 60_000 });
  buffer.add(update('a@example.com', '1', 1), 0);
  buffer.add(update('b@example.com', '1', 2), 0);
  buffer.add(update('a@example.com', '2', 3), 0);
  const metrics = createMetrics();
  const untrack = trackBuffersPerList(metrics, new Map([['main', { buffer }]]), [
    { connection: 'main', listId: '1' },
    { connection: 'main', listId: '2' },
    { connection: 'main', listId: '3' },
  ]);
  const samples = parseMetrics(await metrics.registry.metrics());
  const contacts = sumBy(samples, 'ac_list_sync_buffered_list_contacts', ['list']);
  assert.deepEqual(Object.fromEntries(contacts), { '1': 2, '2': 1, '3': 0 });
  const bytes = sumBy(samples, 'ac_list_sync_buffered_list_bytes', ['list']);
  assert.ok((bytes.get('1') ?? 0) > (bytes.get('2') ?? 0) && (bytes.get('2') ?? 0) > 0, JSON.stringify([...bytes]));
  assert.equal(bytes.get('3'), 0);

  untrack();
  buffer.add(update('c@example.com', '3', 4), 0);
  const after = parseMetrics(await metrics.registry.metrics());
  assert.equal(
    sumBy(after, 'ac_list_sync_buffered_list_contacts', ['list']).get('3'),
    0,
    'no longer tracked after untrack()',
  );
});
