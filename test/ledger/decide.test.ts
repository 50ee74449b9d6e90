import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONSENT_OPTED_OUT, CONSENT_REENTRY_OFF, isStale, recordFor, routeChange, unsubscribeIsOurs } from '../../src/ledger/decide.js';
import { LedgerState, type LedgerEntry } from '../../src/ledger/index.js';
import { entryOf } from '../../src/ledger/record.js';

const entry = (state: LedgerState, occurredAt = 1_000, sentAt = 50_000): LedgerEntry => ({ state, occurredAt, sentAt });
const outcome = { occurredAt: 2_000, sentAt: 60_000, confirmedAt: 61_000 };

describe('staleness', () => {
  it('an event older than the ledger entry, or at the same time, is stale; a newer one or an unknown key is not', () => {
    assert.equal(isStale(entry(LedgerState.Added, 1_000), 999), true);
    assert.equal(isStale(entry(LedgerState.Added, 1_000), 1_000), true, 'equal: a replay of the same event');
    assert.equal(isStale(entry(LedgerState.Added, 1_000), 1_001), false);
    assert.equal(isStale(undefined, 0), false);
  });
});

describe('routing a change at send time', () => {
  it('re-subscribes an add when the service made the current unsubscribe, with the time it sent it', () => {
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService), 'add', 2_000, true), { kind: 'resubscribe', unsubscribedAt: 50_000 });
  });
  it('with re-entry off, the same add is refused', () => {
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService), 'add', 2_000, false), { kind: 'reentry-off' });
  });
  it('imports an add when the unsubscribe is not the service own (ActiveCampaign then refuses it), or nothing is known', () => {
    for (const state of [LedgerState.RemovedOther, LedgerState.AddRefused, LedgerState.Added]) assert.deepEqual(routeChange(entry(state), 'add', 2_000, true), { kind: 'import' });
    assert.deepEqual(routeChange(undefined, 'add', 2_000, true), { kind: 'import' });
  });
  it('imports every remove that is not stale, and refuses nothing for staleness of either op', () => {
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService), 'remove', 2_000, true), { kind: 'import' });
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService), 'add', 1_000, true), { kind: 'stale' });
    assert.deepEqual(routeChange(entry(LedgerState.Added), 'remove', 500, true), { kind: 'stale' });
  });
});

describe('what a confirmed change records', () => {
  const stateAfter = (prev: LedgerEntry | undefined, o: Parameters<typeof recordFor>[1]) => entryOf(recordFor(prev, o)).state;

  it('an unsubscribe after the service own subscribe is the service own', () => {
    const r = recordFor(entry(LedgerState.Added), { op: 'remove', ...outcome });
    assert.deepEqual(r, { op: 'remove', byService: true, occurredAt: 2_000, sentAt: 60_000, confirmedAt: 61_000 });
  });
  it('an unsubscribe with nothing known before it, or after a refused add or another unsubscribe, is not', () => {
    for (const prev of [undefined, entry(LedgerState.AddRefused), entry(LedgerState.RemovedOther)]) {
      assert.equal(stateAfter(prev, { op: 'remove', ...outcome }), LedgerState.RemovedOther);
    }
  });
  it('repeating the service own unsubscribe keeps the first one time', () => {
    const r = recordFor(entry(LedgerState.RemovedByService, 1_000, 50_000), { op: 'remove', ...outcome });
    assert.equal(r.byService, true);
    assert.equal(r.sentAt, 50_000);
    assert.equal(r.occurredAt, 2_000);
  });
  it('an applied add is Added; a refused add is AddRefused, also after the service own unsubscribe', () => {
    assert.equal(stateAfter(entry(LedgerState.RemovedByService), { op: 'add', ...outcome }), LedgerState.Added);
    assert.equal(stateAfter(undefined, { op: 'add', ...outcome, refused: CONSENT_OPTED_OUT }), LedgerState.AddRefused);
    assert.equal(stateAfter(entry(LedgerState.RemovedByService), { op: 'add', ...outcome, refused: CONSENT_OPTED_OUT }), LedgerState.AddRefused);
  });
  it('an add refused because re-entry is off keeps the service unsubscribe, moving only the time', () => {
    const r = recordFor(entry(LedgerState.RemovedByService, 1_000, 50_000), { op: 'add', ...outcome, refused: CONSENT_REENTRY_OFF });
    assert.deepEqual(r, { op: 'remove', byService: true, occurredAt: 2_000, sentAt: 50_000, confirmedAt: 61_000, refused: CONSENT_REENTRY_OFF });
  });
});

describe('whose unsubscribe it is (before a re-subscribe)', () => {
  const sent = Date.parse('2026-11-28T10:00:00Z');
  it('an unsubscribe dated at or after the service sent its own is the service own (within the clock skew)', () => {
    assert.equal(unsubscribeIsOurs('2026-11-28T10:00:03+00:00', sent), true);
    assert.equal(unsubscribeIsOurs('2026-11-28T04:59:58-05:00', sent), true, 'another offset, 2 s early: skew');
  });
  it('one dated well before is an opt-out to keep; an unreadable or missing date is not taken as ours', () => {
    assert.equal(unsubscribeIsOurs('2026-11-28T09:00:00+00:00', sent), false);
    assert.equal(unsubscribeIsOurs('yesterday', sent), false);
    assert.equal(unsubscribeIsOurs(undefined, sent), false);
  });
});
