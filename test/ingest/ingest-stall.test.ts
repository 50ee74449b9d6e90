import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { AccountDelivery } from '../../src/deliver/account-delivery.js';
import { RecordError } from '../../src/domain/errors.js';
import { RegistryUnavailableError } from '../../src/ingest/avro.js';
import type { WireDecoder } from '../../src/ingest/decode.js';
import { Ingest } from '../../src/ingest/ingest.js';
import { Router } from '../../src/ingest/router.js';
import type { EventRef, SourceMessage } from '../../src/ingest/source.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { Ownership } from '../../src/offsets/ownership.js';
import { Settler } from '../../src/offsets/settler.js';
import { offlineConfig } from '../support/offline-config.js';

/**
 * The pipeline's half of pause-and-retry: a retriable decode error stops the batch at that record, leaves it and
 * everything after it untouched (not begun, not dead-lettered), and the same records taken again later go through.
 */
const config = offlineConfig();

function setup(decode: WireDecoder['decode']) {
  const added: EventRef[] = [];
  const account = {
    add: (u: { ref: EventRef }) => {
      added.push(u.ref);
      return 'new';
    },
    addFor: (_profile: string, u: { ref: EventRef }) => {
      added.push(u.ref);
      return 'new';
    },
    dropRevoked: () => [],
    setPartitionShare: () => undefined,
    down: false,
  } as unknown as AccountDelivery<EventRef>;
  const letters: { code: string }[] = [];
  const deadLetter = (letter: { code: string }) => (letters.push(letter), Promise.resolve());
  const metrics = createMetrics();
  const ownership = new Ownership();
  const settler = new Settler(ownership, metrics, pino({ level: 'silent' }));
  const pipeline = new Ingest(
    config,
    new Router(config.exports),
    new Map([['main', account]]),
    ownership,
    settler,
    deadLetter,
    metrics,
    pino({ level: 'silent' }),
    { decode },
  );
  pipeline.assign({ t: [0] });
  return { pipeline, added, letters };
}

const wire = (n: number) => Buffer.from([0, 0, 0, 0, n]);
const message = (offset: number, value: Buffer): SourceMessage => ({
  topic: 't',
  partition: 0,
  offset,
  key: null,
  value,
  headers: {},
  timestamp: 0,
});
const event = (n: number) => ({
  eventId: `e${n}`,
  occurredAt: '2026-11-28T10:00:00Z',
  segmentId: 'vip',
  op: 'add',
  profile: { id: `p${n}`, email: `c${n}@example.com` },
});

describe('Ingest with a wire decoder that may stall', () => {
  it('stops at the record whose registry did not answer and takes it, and the rest, when fetched again', async () => {
    let registryUp = false;
    const { pipeline, letters, added } = setup(async (value) => {
      const n = value[4]!;
      if (n === 2 && !registryUp) throw new RegistryUnavailableError('REGISTRY_UNAVAILABLE', 'no answer');
      if (n === 9) throw new RecordError('decode', 'UNKNOWN_SCHEMA', 'no such schema');
      return event(n);
    });
    const batch = [message(10, wire(1)), message(11, wire(9)), message(12, wire(2)), message(13, wire(3))];

    const stall = await pipeline.handle(batch, 13);
    assert.equal(stall?.offset, 12);
    assert.equal(stall?.error.code, 'REGISTRY_UNAVAILABLE');
    assert.equal(pipeline.totals.consumed, 2, 'offsets 10 and 11 only');
    assert.deepEqual(
      letters.map((l) => l.code),
      ['UNKNOWN_SCHEMA'],
      'the outage dead-letters nothing',
    );
    assert.equal(
      pipeline.pending,
      2,
      'offsets 10 (awaiting delivery) and 11 (behind it) are tracked; 12 and 13 were not begun',
    );
    assert.deepEqual(
      added.map((r) => r.message.offset),
      [10],
    );

    registryUp = true;
    // kafkajs fetches again from the first unresolved offset (12); a wider re-fetch is dropped as duplicates.
    const again = await pipeline.handle(batch, 13);
    assert.equal(again, undefined);
    assert.equal(pipeline.totals.consumed, 4);
    assert.equal(letters.length, 1);
    assert.deepEqual(
      added.map((r) => r.message.offset),
      [10, 12, 13],
      'each record buffered once',
    );
  });

  it('never commits past the stalled record', async () => {
    const { pipeline } = setup(async (value) => {
      if (value[4] === 2) throw new RegistryUnavailableError('REGISTRY_UNAVAILABLE', 'no answer');
      throw new RecordError('decode', 'UNKNOWN_SCHEMA', 'dead-lettered at once');
    });
    const stall = await pipeline.handle([message(0, wire(1)), message(1, wire(2)), message(2, wire(1))], 2);
    assert.equal(stall?.offset, 1);
    assert.deepEqual(
      pipeline.settler.commits(),
      [{ topic: 't', partition: 0, offset: '1' }],
      'offset 0 settled (dead-lettered); 1 is next',
    );
  });
});
