import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { ListChange } from '../../src/buffer/contact-entry.js';
import type { AccountDelivery } from '../../src/deliver/account-delivery.js';
import { Ingest } from '../../src/ingest/ingest.js';
import { Router } from '../../src/ingest/router.js';
import type { EventRef, SourceMessage } from '../../src/ingest/source.js';
import { LedgerGate } from '../../src/ledger/gate.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { encodeLedgerValue, ledgerKey, type LedgerRecord } from '../../src/ledger/record.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { OutcomeSink } from '../../src/offsets/outcomes.js';
import { Ownership } from '../../src/offsets/ownership.js';
import { Settler } from '../../src/offsets/settler.js';
import { offlineConfig } from '../support/offline-config.js';

/**
 * The pipeline with the ledger, no Kafka: a partition waits for its restore; afterwards events at or before the
 * ledger's time are stale (settled, counted, never buffered); a leave is skipped for onLeave: nothing; a
 * confirmed change is written to the ledger before it settles; routing sends a re-entry to contactLists.
 */
const config = offlineConfig([
  { name: 'vip', segmentId: 'vip', connection: 'main', listId: '1' },
  { name: 'promo', segmentId: 'promo', connection: 'main', listId: '2', onLeave: 'nothing' },
  { name: 'news', segmentId: 'news', connection: 'main', listId: '3', reentry: false },
]);
const T = Date.parse('2026-11-28T10:00:00Z');

function setup(stored: { key: string; record: LedgerRecord }[], partitions = [0]) {
  let restored!: () => void;
  const writes: { key: string; value: string; done: () => void }[] = [];
  const metrics = createMetrics();
  const ledger = new Ledger(
    {
      restore: (_topic, _partitions, onRecord) =>
        new Promise<void>((resolve) => {
          restored = () => {
            for (const s of stored) onRecord(0, s.key, Buffer.from(encodeLedgerValue(s.record)), 0);
            resolve();
          };
        }),
      write: (_topic, _partition, key, value) =>
        new Promise<void>((done) => writes.push({ key, value: value ?? '', done })),
    },
    { restoreTimeoutMs: 60_000, rebuild: new Set(), startedAt: 0, openWindowMs: 60_000 },
    metrics,
    pino({ level: 'silent' }),
  );
  const added: EventRef[] = [];
  const account = {
    add: (u: { ref: EventRef }) => (added.push(u.ref), 'new'),
    addFor: (_profile: string, u: { ref: EventRef }) => (added.push(u.ref), 'new'),
    dropRevoked: () => [],
    setPartitionShare: () => undefined,
    down: false,
    buffer: { bytes: 0 },
  } as unknown as AccountDelivery<EventRef>;
  const deadLetter = () => Promise.resolve();
  const ownership = new Ownership();
  const settler = new Settler(ownership, metrics, pino({ level: 'silent' }));
  const gate = new LedgerGate(config.exports, ownership, ledger);
  const sink = new OutcomeSink(settler, ownership, deadLetter, metrics, ledger);
  const pipeline = new Ingest(
    config,
    new Router(config.exports),
    new Map([['main', account]]),
    ownership,
    settler,
    deadLetter,
    metrics,
    pino({ level: 'silent' }),
    undefined,
    ledger,
  );
  pipeline.assign({ t: partitions });
  return { pipeline, gate, sink, added, writes, metrics, restore: () => restored() };
}

const message = (
  offset: number,
  segmentId: string,
  op: 'add' | 'remove',
  at: number,
  email = 'ann@example.com',
  partition = 0,
): SourceMessage => ({
  topic: 't',
  partition,
  offset,
  key: null,
  value: Buffer.from(
    JSON.stringify({
      eventId: `e${offset}`,
      occurredAt: new Date(at).toISOString(),
      segmentId,
      op,
      profile: { id: 'p1', email },
    }),
  ),
  headers: {},
  timestamp: 0,
});
const removedByService = {
  op: 'remove',
  occurredAt: T,
  byService: true,
  sentAt: T + 1_000,
  confirmedAt: T + 2_000,
} as const;
const count = async (m: ReturnType<typeof createMetrics>, result: string) =>
  (await m.eventsConsumed.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

describe('Ingest with the ledger', () => {
  it('does not process a partition before its ledger is restored: the batch stalls untouched until then', async () => {
    const { pipeline, added, restore } = setup([]);
    const stall = await pipeline.handle([message(0, 'vip', 'add', T)], 0);
    assert.equal(stall?.error.code, 'LEDGER_RESTORING');
    assert.equal(stall?.offset, 0);
    assert.ok(stall?.until);
    assert.equal(pipeline.pending, 0, 'nothing begun');
    restore();
    await stall.until;
    assert.equal(await pipeline.handle([message(0, 'vip', 'add', T)], 0), undefined);
    assert.equal(added.length, 1);
  });

  it('skips and counts events at or before the ledger entry; buffers newer ones', async () => {
    const { pipeline, added, restore, metrics } = setup([
      { key: ledgerKey('main', '1', 'ann@example.com'), record: removedByService },
    ]);
    restore();
    await new Promise((r) => setImmediate(r));
    await pipeline.handle(
      [
        message(0, 'vip', 'add', T - 1),
        message(1, 'vip', 'add', T),
        message(2, 'vip', 'add', T + 1),
        message(3, 'vip', 'add', T - 5, 'bob@example.com'),
      ],
      3,
    );
    assert.deepEqual(
      added.map((r) => r.message.offset),
      [2, 3],
      'older and equal are stale; another contact is not',
    );
    assert.equal(await count(metrics, 'stale'), 2);
    assert.deepEqual(
      pipeline.settler.commits(),
      [{ topic: 't', partition: 0, offset: '2' }],
      'the stale ones settled at once; offset 2 waits for delivery',
    );
  });

  it('skips a leave for onLeave: nothing, and counts it', async () => {
    const { pipeline, added, restore, metrics } = setup([]);
    restore();
    await new Promise((r) => setImmediate(r));
    await pipeline.handle([message(0, 'promo', 'remove', T), message(1, 'promo', 'add', T + 1)], 1);
    assert.deepEqual(
      added.map((r) => r.message.offset),
      [1],
    );
    assert.equal(await count(metrics, 'leave_ignored'), 1);
  });

  it('routes a re-entry after the service own unsubscribe to contactLists, or refuses it when reentry is off', async () => {
    const { pipeline, gate, added, restore } = setup([
      { key: ledgerKey('main', '1', 'ann@example.com'), record: removedByService },
      { key: ledgerKey('main', '3', 'ann@example.com'), record: removedByService },
    ]);
    restore();
    await new Promise((r) => setImmediate(r));
    await pipeline.handle([message(0, 'vip', 'add', T + 10), message(1, 'news', 'add', T + 11)], 1);
    const change = (ref: EventRef): ListChange<EventRef> => ({
      op: 'add',
      occurredAt: ref.occurredAt,
      seq: 0,
      refs: [ref],
      winner: ref,
      tags: new Set(),
    });
    assert.deepEqual(gate.route('main', 'ann@example.com', '1', change(added[0]!)), {
      kind: 'resubscribe',
      window: { from: T + 1_000 - 5_000, to: T + 2_000 + 5_000 },
    });
    assert.deepEqual(gate.route('main', 'ann@example.com', '3', change(added[1]!)), { kind: 'reentry-off' });
    assert.equal(gate.live(added[0]!), true);
    pipeline.assign({ t: [0] });
    assert.equal(
      gate.live(added[0]!),
      false,
      'a ref of an earlier generation is dropped by delivery (its event is fetched again), never sent',
    );
  });

  it('writes a confirmed change to the ledger and settles it only once the write is acknowledged', async () => {
    const { pipeline, sink, added, restore, writes } = setup([]);
    restore();
    await new Promise((r) => setImmediate(r));
    await pipeline.handle([message(0, 'vip', 'add', T)], 0);
    sink.applied('main', [
      {
        email: 'ann@example.com',
        listId: '1',
        op: 'add',
        occurredAt: T,
        refs: added,
        winner: added[0]!,
        sentAt: T + 1,
        confirmedAt: T + 2,
      },
    ]);
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.key, ledgerKey('main', '1', 'ann@example.com'));
    assert.equal(JSON.parse(writes[0]!.value).op, 'add');
    assert.equal(pipeline.totals.delivered, 0, 'not settled before the ledger holds it');
    writes[0]!.done();
    await new Promise((r) => setImmediate(r));
    assert.equal(pipeline.totals.delivered, 1);
    assert.deepEqual(pipeline.settler.commits(), [{ topic: 't', partition: 0, offset: '1' }]);
    // An older event is now stale in memory, before any restart; at an equal occurredAt the later offset wins.
    await pipeline.handle([message(1, 'vip', 'add', T - 1)], 1);
    assert.equal(added.length, 1);
    await pipeline.handle([message(2, 'vip', 'remove', T)], 2);
    assert.equal(added.length, 2, 'one rule for equal times: the later event in the partition wins');
  });

  // Issue 14, defect 3: newest-wins held only within a source partition.
  it('across two partitions of one member, an older remove arriving after a newer confirmed add is stale, and the conflict is counted', async () => {
    const { pipeline, sink, added, restore, writes, metrics } = setup([], [0, 1]);
    restore();
    await new Promise((r) => setImmediate(r));
    await pipeline.handle([message(0, 'vip', 'add', T + 10, 'ann@example.com', 0)], 0);
    sink.applied('main', [
      {
        email: 'ann@example.com',
        listId: '1',
        op: 'add',
        occurredAt: T + 10,
        refs: added,
        winner: added[0]!,
        sentAt: T + 11,
        confirmedAt: T + 12,
      },
    ]);
    writes[0]!.done();
    await pipeline.handle([message(0, 'vip', 'remove', T, 'ann@example.com', 1)], 0);
    assert.equal(added.length, 1, 'the older remove from partition 1 is not buffered: the add stands');
    assert.equal(await count(metrics, 'stale'), 1);
    assert.equal((await metrics.emailOnTwoPartitions.get()).values[0]?.value, 1);
    await pipeline.handle([message(1, 'vip', 'remove', T + 20, 'ann@example.com', 1)], 1);
    assert.equal(added.length, 2, 'a newer remove from partition 1 goes');
  });

  // Found by the rebalance drill: a refusal of an event fetched before the rebalance was recorded without its letter,
  // so the copy fetched again was stale and never dead-lettered.
  it('records a refusal only with its own letter: not for an event of an earlier generation, which is fetched again', async () => {
    const { pipeline, sink, added, restore, writes } = setup([]);
    restore();
    await new Promise((r) => setImmediate(r));
    await pipeline.handle([message(0, 'vip', 'add', T)], 0);
    const old = added[0]!;
    pipeline.assign({ t: [0] }); // a rebalance that keeps the partition
    sink.applied('main', [
      {
        email: 'ann@example.com',
        listId: '1',
        op: 'add',
        occurredAt: T,
        refs: [old],
        winner: old,
        sentAt: T,
        confirmedAt: T,
        refused: { code: 'CONSENT_OPTED_OUT', message: 'opted out' },
      },
    ]);
    await new Promise((r) => setImmediate(r));
    assert.equal(writes.length, 0, 'no ledger record for it');
    await pipeline.handle([message(0, 'vip', 'add', T)], 0);
    assert.equal(
      added.length,
      2,
      'the copy fetched again is not stale: it goes, and is refused and dead-lettered in turn',
    );
  });

  // Found in review: an intent outlived an import that certainly never reached ActiveCampaign (a 429), and its open
  // window could then claim a person's own unsubscribe made in the next 40 minutes.
  it('withdrawing the intents of an import that was not applied closes their window at once', async () => {
    const { pipeline, gate, added, restore, writes } = setup([]);
    restore();
    await new Promise((r) => setImmediate(r));
    await pipeline.handle([message(0, 'vip', 'remove', T)], 0);
    const change = {
      op: 'remove' as const,
      occurredAt: T,
      seq: 0,
      refs: [added[0]!],
      winner: added[0]!,
      tags: new Set<string>(),
    };
    const sent = T + 60_000;
    const intended = gate.intend('main', [{ email: 'ann@example.com', listId: '1', change }], sent);
    writes[0]!.done();
    await intended;
    const addAfter = {
      op: 'add' as const,
      occurredAt: T + 1,
      seq: 1,
      refs: [added[0]!],
      winner: added[0]!,
      tags: new Set<string>(),
    };
    assert.deepEqual(
      gate.route('main', 'ann@example.com', '1', addAfter),
      { kind: 'resubscribe', window: { from: sent - 5_000, to: sent + 60_000 + 5_000 } },
      'open: to the last moment it could be applied',
    );
    gate.withdraw('main', [{ email: 'ann@example.com', listId: '1', change }], sent + 1_000);
    assert.deepEqual(
      gate.route('main', 'ann@example.com', '1', addAfter),
      { kind: 'resubscribe', window: { from: sent - 5_000, to: sent + 1_000 + 5_000 } },
      'closed at the refusal',
    );
    assert.equal(writes.length, 2, 'the closed window is written to the ledger too');
  });
});
