import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Producer } from 'kafkajs';
import { DiscardedError } from '../../src/kafka/acked-writer.js';
import { writerProducerConfig } from '../../src/kafka/client.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { quietLog } from '../support/harness.js';
import { world } from '../support/world.js';

/**
 * The fencing window of issue 14, measured on the real broker. When a member loses a partition, the ledger writer
 * discards what it holds for it (`release`). What can still land after that is the one request already on the
 * wire: the writer never sends a discarded record again, and kafkajs does not retry a produce request of the
 * writers' producer (retries 0, so each retry goes through the writer, which checks). The test releases a
 * partition while a request for it is in flight, then reads the ledger topic: every record of that partition
 * that landed was in a request sent before the release, and the time from the release until that request ended
 * is the window, reported as a diagnostic (the README states it; no timed assertion).
 */
const w = world({ simulator: false });

test('after a partition is released, only the request already in flight can land: nothing queued for it is written', async (t) => {
  const topic = await w.topic('ledger-fencing', 2);
  const producer = await w.producer(writerProducerConfig());
  const sentBeforeRelease = new Set<string>();
  let released = false;
  let inFlightAtRelease: Promise<unknown> | undefined;
  let releasedAt = 0;
  let windowEndedAt = 0;
  let writer!: LedgerWriter;
  const writes: Promise<string>[] = [];
  const write = (i: number) =>
    writes.push(
      writer.write({ topic, partition: i % 2, key: `k${i}`, value: JSON.stringify({ i }) }).then(
        () => 'written',
        (err: unknown) => (err instanceof DiscardedError ? 'discarded' : `failed: ${String(err)}`),
      ),
    );
  // Records every key in each request. Right after the first request is on the wire, more records are queued
  // behind it (the writer has one request in flight), and then partition 1 is released, as a revocation does.
  const watched: Pick<Producer, 'sendBatch'> = {
    sendBatch: (batch) => {
      const keys = batch.topicMessages!.flatMap((tm) =>
        tm.messages.filter((m) => m.partition === 1).map((m) => String(m.key)),
      );
      const sending = producer.sendBatch(batch);
      if (!released) for (const k of keys) sentBeforeRelease.add(k);
      if (!released && keys.length > 0) {
        for (let i = 100; i < 400; i++) write(i);
        released = true;
        releasedAt = performance.now();
        inFlightAtRelease = sending.finally(() => (windowEndedAt = performance.now()));
        writer.writer.discard((r) => r.topic === topic && r.partition === 1);
      }
      return sending;
    },
  };
  writer = new LedgerWriter(watched, createMetrics(), quietLog(), { admin: w.admin });
  for (let i = 0; i < 100; i++) write(i);
  await new Promise<void>((resolve) => {
    const wait = () => (released ? resolve() : setImmediate(wait));
    wait();
  });
  const outcomes = await Promise.all(writes);
  await writer.writer.whenIdle();
  await inFlightAtRelease;
  assert.ok(released, 'a request for partition 1 was in flight at the release');
  assert.equal(outcomes.filter((o) => o.startsWith('failed')).length, 0, 'no write failed');

  const ends = await w.admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(p.high), 0);
  const stored = await w.read(topic, total);
  const landed = stored.filter((r) => r.partition === 1).map((r) => r.key!);
  const late = landed.filter((k) => !sentBeforeRelease.has(k));
  assert.deepEqual(late, [], 'no record of the released partition was sent after the release');
  const discarded = outcomes.filter((o) => o === 'discarded').length;
  assert.equal(discarded, 150, 'the records queued for the released partition were discarded, not written');
  assert.equal(landed.length, 50, 'the request in flight at the release landed whole');
  assert.equal(stored.filter((r) => r.partition === 0).length, 200, 'the other partition is written whole');
  t.diagnostic(
    `fencing window: the request in flight at the release ended ${(windowEndedAt - releasedAt).toFixed(1)} ms after it; ${landed.length} records of the released partition landed (all sent before it), ${discarded} discarded`,
  );
});
