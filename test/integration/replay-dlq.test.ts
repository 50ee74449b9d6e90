import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { REPLAYED_AT } from '../../src/dlq/inspect.js';
import { readToEnd, type StoredRecord } from '../../src/kafka/read-to-end.js';
import { runToExit } from '../support/cli.js';
import { kafka } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The fix-then-replay path: events of a segment nobody mapped are dead-lettered (unmappedSegments
 * 'dead-letter'); `dlq inspect` shows them; a mapping is added; `dlq replay` re-publishes them to the source
 * topic, and the live sync, restarted with the fix, delivers them. The CLI runs as a child process.
 */
const segments = ['vip', 'newsletter', 'churn'];
const w = world({ segments, simulator: { timeScale: 5 } });

test('after a mapping is added, dlq replay re-publishes the unmapped dead letters and the sync delivers them', async () => {
  const topic = await w.topic('dlq-replay', 3);
  const expected = await w.produceSample(topic, { events: 1_500, segments, seed: 5 });
  const churn = [...expected.get('churn')!.keys()].length;
  const mapped = segments.slice(0, 2);
  const before = w.configFile(topic, { unmappedSegments: 'dead-letter', log: { level: 'warn' } }, mapped);
  const after = w.configFile(topic, { unmappedSegments: 'dead-letter', log: { level: 'warn' } });

  // 1. The live sync without a mapping for churn: its events are dead-lettered as unmapped.
  const first = await w.start(w.config(topic, { unmappedSegments: 'dead-letter' }, mapped));
  await w.committed(first, 'the first run to commit to the end');
  const deadLettered = first.totals().deadLettered;
  await first.stop();
  assert.ok(deadLettered > churn, `every churn event was dead-lettered (${deadLettered} for ${churn} contacts)`);
  assert.equal(Object.keys(w.sim.snapshot().lists['3']!.members).length, 0, 'nothing reached list 3 yet');

  // 2. dlq inspect: counts by stage and code, samples masked.
  const inspect = await runToExit(['dlq', 'inspect', '--config', before], 60_000);
  assert.equal(inspect.code, 0, inspect.stderr.join('\n'));
  const out = inspect.stdout.join('\n');
  assert.match(out, new RegExp(`${topic}\\.dlq: ${deadLettered.toLocaleString('en-US')} dead letters`));
  assert.match(out, new RegExp(`map/UNMAPPED_SEGMENT +${deadLettered.toLocaleString('en-US')}`));
  assert.match(out, /u\*\*\*@e\*\*\*\.com/, 'samples show masked emails');
  assert.doesNotMatch(`${out}\n${inspect.stderr.join('\n')}`, /user\d+@example\.com/, 'no email in clear');

  // 3. A filter that matches nothing re-publishes nothing.
  const none = await runToExit(['dlq', 'replay', '--config', after, '--code', 'NOT_JSON'], 60_000);
  assert.equal(none.code, 0, none.stderr.join('\n'));
  assert.match(none.stdout.join('\n'), new RegExp(`0 of ${deadLettered} dead letters matched; re-published none`));

  // 4. dlq replay with the fix in the config.
  const ends = await w.admin.fetchTopicOffsets(topic);
  const replay = await runToExit(
    [
      'dlq',
      'replay',
      '--config',
      after,
      '--stage',
      'map',
      '--code',
      'UNMAPPED_SEGMENT',
      '--since',
      '2020-01-01T00:00:00Z',
    ],
    60_000,
  );
  assert.equal(replay.code, 0, replay.stderr.join('\n'));
  assert.match(
    replay.stdout.join('\n'),
    new RegExp(`${deadLettered} of ${deadLettered} dead letters matched; re-published ${deadLettered} to ${topic}`),
  );
  const grown = await w.admin.fetchTopicOffsets(topic);
  const added = grown.reduce((n, p) => n + Number(p.high), 0) - ends.reduce((n, p) => n + Number(p.high), 0);
  assert.equal(added, deadLettered, 'each matching dead letter went back to the source topic once');

  // The re-published records: no dead-letter headers, a trace, on the partition they came from.
  const reader = await w.reader(topic);
  await reader.until(1_500 + deadLettered);
  await reader.stop();
  const replayed = reader.records.filter(
    (r) => r.offset >= Number(ends.find((e) => e.partition === r.partition)!.high),
  );
  assert.equal(replayed.length, deadLettered);
  for (const r of replayed) {
    assert.equal(r.headers[DLQ_HEADERS.stage], undefined);
    assert.equal(r.headers[DLQ_HEADERS.code], undefined);
    assert.ok(r.headers[REPLAYED_AT], 'the trace header is there');
    const original = reader.records.find(
      (o) => o.offset < Number(ends.find((e) => e.partition === o.partition)!.high) && o.value?.equals(r.value!),
    );
    assert.equal(original?.partition, r.partition, 'same partition as the original event');
  }

  // 5. The sync restarted with the fix (same group): the re-published events reach list 3.
  const second = await w.service(topic, { unmappedSegments: 'dead-letter' });
  const churnOnly = new Map([['churn', expected.get('churn')!]]);
  await w.membership(churnOnly, 'list 3 to hold the churn membership');
  await w.committed(second, 'the second run to commit to the end');
  assert.equal(second.totals().consumed, deadLettered, 'only the re-published events were new to the live group');
  assert.equal(second.totals().deadLettered, 0);
});

test('dlq replay re-publishes a header the event held more than once with all its values, in order', async () => {
  const topic = await w.topic('dlq-repeated', 1);
  const producer = await w.producer();
  const value = JSON.stringify({
    eventId: 'e-r1',
    occurredAt: new Date().toISOString(),
    segmentId: 'churn',
    op: 'add',
    profile: { id: 'p-r1', email: 'repeated@example.com' },
  });
  await producer.send({
    topic,
    messages: [{ key: 'p-r1', value, headers: { tag: ['first', 'second'], trace: 'once' } }],
  });
  const run = await w.start(w.config(topic, { unmappedSegments: 'dead-letter' }, segments.slice(0, 2)));
  await w.committed(run, 'the unmapped event to be dead-lettered and committed');
  await run.stop();
  const replay = await runToExit(
    ['dlq', 'replay', '--config', w.configFile(topic, { log: { level: 'warn' } })],
    60_000,
  );
  assert.equal(replay.code, 0, replay.stderr.join('\n'));
  const records: StoredRecord[] = [];
  await readToEnd(kafka(), w.admin, topic, (r) => void records.push(r), { groupPrefix: 'test' });
  assert.equal(records.length, 2, 'the event and its re-published copy');
  const [source, again] = records as [StoredRecord, StoredRecord];
  assert.deepEqual(source.repeated?.tag?.map(String), ['first', 'second'], 'the reader keeps both values');
  assert.deepEqual(again.repeated?.tag?.map(String), ['first', 'second'], 'the copy holds both, in order');
  assert.equal(String(again.headers.trace), 'once');
  assert.ok(again.headers[REPLAYED_AT], 'the trace header is there');
});
