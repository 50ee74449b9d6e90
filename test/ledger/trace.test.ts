import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { traceContact, type TracedEvent } from '../../src/ledger/trace.js';
import { offlineConfig } from '../support/offline-config.js';

const config = offlineConfig([
  { name: 'vip', segmentId: 'vip', connection: 'main', listId: '1' },
  { name: 'promo', segmentId: 'promo', connection: 'main', listId: '2', onLeave: 'nothing' },
]);
const ev = (offset: number, occurredAt: number, op: 'add' | 'remove', segmentId = 'vip'): TracedEvent => ({
  topic: 't',
  partition: 0,
  offset,
  eventId: `e${offset}`,
  occurredAt,
  segmentId,
  op,
});

describe('traceContact', () => {
  it('says for each event whether it was applied, superseded, replayed, dead-lettered, skipped or not confirmed yet', () => {
    const ledger = { op: 'add', occurredAt: 20, byService: false, sentAt: 1, confirmedAt: 2 } as const;
    const [vip, promo] = traceContact(
      config.exports,
      (_c, listId) => (listId === '1' ? ledger : undefined),
      [
        ev(0, 10, 'add'),
        ev(1, 15, 'remove'),
        ev(2, 20, 'add'),
        ev(3, 30, 'remove'),
        ev(4, 20, 'add'),
        ev(5, 5, 'remove', 'promo'),
      ],
      [
        {
          topic: 't',
          partition: 0,
          offset: 1,
          exportName: 'vip',
          stage: 'deliver',
          code: 'INVALID_CONTACT',
          message: 'bad',
        },
      ],
    );
    assert.match(vip!.state, /^subscribed by this service/);
    assert.deepEqual(
      vip!.events.map((e) => `${e.offset} ${e.fate.split(':')[0]}`),
      ['0 superseded', '1 dead-lettered', '2 applied', '4 stale', '3 not confirmed yet (newer than the ledger'],
    );
    assert.match(promo!.events[0]!.fate, /onLeave: nothing/);
    assert.match(promo!.state, /^nothing/);
  });

  it('keeps to one list with a filter', () => {
    const lines = traceContact(config.exports, () => undefined, [], [], '2');
    assert.deepEqual(
      lines.map((l) => l.listId),
      ['2'],
    );
  });
});
