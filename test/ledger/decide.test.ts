import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONSENT_OPTED_OUT,
  CONSENT_REENTRY_OFF,
  intentFor,
  isStale,
  recordFor,
  routeChange,
  unsubscribeIsOurs,
  windowOf,
} from '../../src/ledger/decide.js';
import { LedgerState, type LedgerEntry } from '../../src/ledger/hash-index.js';
import { decodeLedgerValue, encodeLedgerValue, entryOf, type LedgerRecord } from '../../src/ledger/record.js';

const entry = (state: LedgerState, occurredAt = 1_000, sentAt = 50_000, confirmedAt?: number): LedgerEntry => ({
  state,
  occurredAt,
  sentAt,
  ...(confirmedAt ? { confirmedAt } : {}),
});
const outcome = { occurredAt: 2_000, sentAt: 60_000, confirmedAt: 61_000 };
const OPEN = 600_000;

describe('staleness', () => {
  it('an event older than the ledger entry, or at the same time, is stale; a newer one or an unknown key is not', () => {
    assert.equal(isStale(entry(LedgerState.Added, 1_000), 999), true);
    assert.equal(isStale(entry(LedgerState.Added, 1_000), 1_000), true, 'equal: a replay of the same event');
    assert.equal(isStale(entry(LedgerState.Added, 1_000), 1_001), false);
    assert.equal(isStale(undefined, 0), false);
  });
  it('an intent never makes an event stale: it carries the time of the change applied before it', () => {
    const intent = entryOf(intentFor(entry(LedgerState.Added, 1_000), 70_000)!);
    assert.equal(isStale(intent, 1_001), false);
    assert.equal(
      isStale(entryOf(intentFor(undefined, 70_000)!), 1),
      false,
      'nothing applied before: any event is newer',
    );
  });
});

describe('routing a change at send time', () => {
  it('re-subscribes an add when the service made the current unsubscribe, within the window of that unsubscribe', () => {
    assert.deepEqual(
      routeChange(entry(LedgerState.RemovedByService, 1_000, 50_000, 52_000), 'add', 2_000, true, OPEN),
      { kind: 'resubscribe', window: { from: 45_000, to: 57_000 } },
    );
  });
  it('an unconfirmed intent keeps its window open to the last moment the unsubscribe may be applied', () => {
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService, 1_000, 50_000), 'add', 2_000, true, OPEN), {
      kind: 'resubscribe',
      window: { from: 45_000, to: 50_000 + OPEN + 5_000 },
    });
  });
  it('with re-entry off, the same add is refused', () => {
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService), 'add', 2_000, false, OPEN), {
      kind: 'reentry-off',
    });
  });
  it('imports an add when the unsubscribe is not the service own (ActiveCampaign then refuses it), or nothing is known', () => {
    for (const state of [LedgerState.RemovedOther, LedgerState.AddRefused, LedgerState.Added])
      assert.deepEqual(routeChange(entry(state), 'add', 2_000, true, OPEN), { kind: 'import' });
    assert.deepEqual(routeChange(undefined, 'add', 2_000, true, OPEN), { kind: 'import' });
  });
  it('imports every remove that is not stale, and refuses nothing for staleness of either op', () => {
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService), 'remove', 2_000, true, OPEN), { kind: 'import' });
    assert.deepEqual(routeChange(entry(LedgerState.RemovedByService), 'add', 1_000, true, OPEN), { kind: 'stale' });
    assert.deepEqual(routeChange(entry(LedgerState.Added), 'remove', 500, true, OPEN), { kind: 'stale' });
  });
});

describe('the intent written before an unsubscribe', () => {
  it('is written over nothing known, an add, or the service own unsubscribe (keeping the first start)', () => {
    assert.deepEqual(intentFor(undefined, 70_000), {
      op: 'remove',
      byService: true,
      intent: true,
      occurredAt: 0,
      sentAt: 70_000,
      confirmedAt: 0,
    });
    assert.deepEqual(intentFor(entry(LedgerState.Added, 1_000), 70_000), {
      op: 'remove',
      byService: true,
      intent: true,
      occurredAt: 1_000,
      sentAt: 70_000,
      confirmedAt: 0,
    });
    assert.equal(
      intentFor(entry(LedgerState.RemovedByService, 1_000, 50_000), 70_000)!.sentAt,
      50_000,
      'a resubmit keeps its open intent start',
    );
  });
  it('is not written when the unsubscribe repeats the contact own (a refused add or such an unsubscribe before it)', () => {
    assert.equal(intentFor(entry(LedgerState.AddRefused), 70_000), undefined);
    assert.equal(intentFor(entry(LedgerState.RemovedOther), 70_000), undefined);
  });
  it('stands in the index as the service own unsubscribe with an open window', () => {
    const e = entryOf(intentFor(entry(LedgerState.Added), 70_000)!);
    assert.equal(e.state, LedgerState.RemovedByService);
    assert.equal(e.confirmedAt, undefined);
    assert.deepEqual(windowOf(e, OPEN), { from: 65_000, to: 70_000 + OPEN + 5_000 });
  });
});

describe('what a confirmed change records', () => {
  const stateAfter = (prev: LedgerEntry | undefined, o: Parameters<typeof recordFor>[1]) =>
    entryOf(recordFor(prev, o)!).state;

  it('every unsubscribe the service sends is its own: after its subscribe, after nothing known, after its intent', () => {
    assert.deepEqual(recordFor(entry(LedgerState.Added), { op: 'remove', ...outcome }), {
      op: 'remove',
      byService: true,
      occurredAt: 2_000,
      sentAt: 60_000,
      confirmedAt: 61_000,
    });
    assert.equal(stateAfter(undefined, { op: 'remove', ...outcome }), LedgerState.RemovedByService);
    const intent = entryOf(intentFor(entry(LedgerState.Added), 59_000)!);
    assert.deepEqual(
      recordFor(intent, { op: 'remove', ...outcome }),
      { op: 'remove', byService: true, occurredAt: 2_000, sentAt: 59_000, confirmedAt: 61_000 },
      'the confirmation replaces the intent and closes the window',
    );
  });
  it('an unsubscribe that repeats the contact own (a refused add or such an unsubscribe before it) is not', () => {
    for (const prev of [entry(LedgerState.AddRefused), entry(LedgerState.RemovedOther)])
      assert.equal(stateAfter(prev, { op: 'remove', ...outcome }), LedgerState.RemovedOther);
  });
  it('repeating the service own unsubscribe keeps the first one time', () => {
    const r = recordFor(entry(LedgerState.RemovedByService, 1_000, 50_000), { op: 'remove', ...outcome })!;
    assert.equal(r.byService, true);
    assert.equal(r.sentAt, 50_000);
    assert.equal(r.occurredAt, 2_000);
  });
  it('a failed remove replaces its intent, closing the window, and keeps the earlier occurredAt (its event is not stale)', () => {
    const intent = entryOf(intentFor(entry(LedgerState.Added, 1_000), 59_000)!);
    const r = recordFor(intent, { op: 'remove', ...outcome, failed: true })!;
    assert.deepEqual(r, { op: 'remove', byService: true, occurredAt: 1_000, sentAt: 59_000, confirmedAt: 61_000 });
    assert.equal(
      recordFor(entry(LedgerState.Added), { op: 'add', ...outcome, failed: true }),
      undefined,
      'a failed add records nothing',
    );
  });
  it('an applied add is Added; a refused add is AddRefused, also after the service own unsubscribe', () => {
    assert.equal(stateAfter(entry(LedgerState.RemovedByService), { op: 'add', ...outcome }), LedgerState.Added);
    assert.equal(stateAfter(undefined, { op: 'add', ...outcome, refused: CONSENT_OPTED_OUT }), LedgerState.AddRefused);
    assert.equal(
      stateAfter(entry(LedgerState.RemovedByService), { op: 'add', ...outcome, refused: CONSENT_OPTED_OUT }),
      LedgerState.AddRefused,
    );
  });
  it('an add refused because re-entry is off keeps the service unsubscribe, moving only the time', () => {
    const r: LedgerRecord | undefined = recordFor(entry(LedgerState.RemovedByService, 1_000, 50_000), {
      op: 'add',
      ...outcome,
      refused: CONSENT_REENTRY_OFF,
    });
    assert.deepEqual(r, {
      op: 'remove',
      byService: true,
      occurredAt: 2_000,
      sentAt: 50_000,
      confirmedAt: 61_000,
      refused: CONSENT_REENTRY_OFF,
    });
  });
});

describe('whose unsubscribe it is (before a re-subscribe): inside the window only', () => {
  const sent = Date.parse('2026-11-28T10:00:00Z');
  const window = { from: sent - 5_000, to: sent + 60_000 + 5_000 };
  it('an unsubscribe dated inside the window of the service own is the service own (within the clock skew)', () => {
    assert.equal(unsubscribeIsOurs('2026-11-28T10:00:03+00:00', window), true);
    assert.equal(unsubscribeIsOurs('2026-11-28T04:59:58-05:00', window), true, 'another offset, 2 s early: skew');
  });
  it('one dated before it is an opt-out to keep; so is one after it (the contact unsubscribed again since)', () => {
    assert.equal(unsubscribeIsOurs('2026-11-28T09:00:00+00:00', window), false);
    assert.equal(
      unsubscribeIsOurs('2026-11-28T10:05:00+00:00', window),
      false,
      'after: e.g. re-subscribed by a form, then unsubscribed themselves',
    );
  });
  it('an unreadable or missing date is not taken as ours', () => {
    assert.equal(unsubscribeIsOurs('yesterday', window), false);
    assert.equal(unsubscribeIsOurs(undefined, window), false);
  });
});

// Issue 14, defect 4: inside a flush window the later of two events with one occurredAt won, across windows the
// later one was discarded as stale. One rule now: the later offset in the partition wins.
describe('one rule for an equal occurredAt', () => {
  const at = (offset?: number): LedgerEntry => ({
    state: LedgerState.Added,
    occurredAt: 1_000,
    sentAt: 0,
    ...(offset !== undefined ? { offset } : {}),
  });
  it('the same op again at a later offset (the event published again) is stale; the other op there wins', () => {
    assert.equal(isStale(at(10), 1_000, 11, 'add'), true, 'an add over an add: changes nothing');
    assert.equal(isStale(at(10), 1_000, 11, 'remove'), false, 'a remove after the add, in the same second');
    assert.equal(isStale(at(10), 1_000, 9, 'remove'), true, 'a remove before the add, in the same second');
  });
  it('the later event of the partition wins; the same event again (a replay) is stale', () => {
    assert.equal(isStale(at(10), 1_000, 11), false, 'a later offset at the same time');
    assert.equal(isStale(at(10), 1_000, 10), true, 'the same offset: a replay');
    assert.equal(isStale(at(10), 1_000, 9), true, 'an earlier offset');
  });
  it('a copy re-published by dlq replay (no offset of its own) never wins a tie; nor does anything over a version-1 record', () => {
    assert.equal(isStale(at(10), 1_000, undefined), true);
    assert.equal(isStale(at(), 1_000, 99), true);
  });
  it('the confirmed record carries the offset, and an intent keeps the one before it', () => {
    const r = recordFor(at(10), { op: 'remove', occurredAt: 1_000, offset: 12, sentAt: 5, confirmedAt: 6 })!;
    assert.equal(r.offset, 12);
    assert.equal(intentFor(at(10), 5)!.offset, 10);
    assert.equal(entryOf(r).offset, 12);
  });
});

describe('a refused re-entry (re-entry off) at an equal occurredAt', () => {
  it('stands for an add: the same add published again is stale, though the membership stays unsubscribed', () => {
    const r = recordFor(
      { state: LedgerState.RemovedByService, occurredAt: 1_000, sentAt: 0, offset: 3 },
      { op: 'add', occurredAt: 2_000, offset: 7, sentAt: 5, confirmedAt: 5, refused: CONSENT_REENTRY_OFF },
    )!;
    const e = entryOf(r);
    assert.equal(e.state, LedgerState.RemovedByService);
    assert.equal(e.refusedAdd, true);
    assert.equal(isStale(e, 2_000, 9, 'add'), true);
    assert.equal(isStale(e, 2_000, 9, 'remove'), false);
  });
});

// Found in review: a run of the service's unsubscribes stretched one window over a person's own unsubscribe made
// between them (re-subscribed through a form, then unsubscribed themselves), and a re-entry then re-subscribed them.
describe('a run of the service own unsubscribes keeps two windows, never one stretched over the time between', () => {
  const confirmed = entry(LedgerState.RemovedByService, 1_000, 50_000, 52_000);
  it('an intent over a confirmed own unsubscribe starts anew and keeps the first as the earlier window', () => {
    const e = entryOf(intentFor(confirmed, 500_000)!);
    const w = windowOf(e, OPEN);
    assert.equal(w.from, 495_000);
    assert.deepEqual(w.earlier, { from: 45_000, to: 57_000 });
    const after = entryOf(recordFor(e, { op: 'remove', occurredAt: 2_000, sentAt: 500_000, confirmedAt: 501_000 })!);
    assert.deepEqual(windowOf(after, OPEN), { from: 495_000, to: 506_000, earlier: { from: 45_000, to: 57_000 } });
  });
  it('a date between the two windows (the contact own) is not ours; one in either window is', () => {
    const w = windowOf(
      entryOf(
        recordFor(entryOf(intentFor(confirmed, 500_000)!), {
          op: 'remove',
          occurredAt: 2_000,
          sentAt: 500_000,
          confirmedAt: 501_000,
        })!,
      ),
      OPEN,
    );
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.equal(unsubscribeIsOurs(iso(300_000), w), false, 'between the windows');
    assert.equal(unsubscribeIsOurs(iso(51_000), w), true, 'the first unsubscribe, its date kept by ActiveCampaign');
    assert.equal(unsubscribeIsOurs(iso(500_500), w), true, 'the latest unsubscribe');
  });
  it('the earlier window survives a third unsubscribe, and the record round-trips it', () => {
    const second = entryOf(
      recordFor(entryOf(intentFor(confirmed, 500_000)!), {
        op: 'remove',
        occurredAt: 2_000,
        sentAt: 500_000,
        confirmedAt: 501_000,
      })!,
    );
    const third = intentFor(second, 900_000)!;
    assert.equal(third.priorSentAt, 50_000);
    assert.equal(third.priorConfirmedAt, 52_000);
    assert.deepEqual(decodeLedgerValue(encodeLedgerValue(third)), third);
  });
});

// The crash drill's wrongly refused re-entry (issue 13): a remove of a contact ActiveCampaign did not have was
// recorded as a confirmed unsubscribe of the service's, then kept as the earlier window of the next two. The
// second one created the membership in 2 (its date is ActiveCampaign's), the third repeated it (the date stays),
// and the re-entry found that date in neither window kept.
describe('an unsubscribe that never reached ActiveCampaign is never kept as the earlier window', () => {
  const send = (prev: LedgerEntry | undefined, at: number, o: Partial<{ unapplied: boolean; failed: boolean }> = {}) =>
    entryOf(
      recordFor(entryOf(intentFor(prev, at)!), {
        op: 'remove',
        occurredAt: at / 10,
        sentAt: at,
        confirmedAt: at + 1_000,
        ...o,
      })!,
    );
  const absent = (prev: LedgerEntry | undefined, at: number) =>
    entryOf(recordFor(prev, { op: 'remove', occurredAt: at / 10, sentAt: at, confirmedAt: at, unapplied: true })!);
  const iso = (ms: number) => new Date(ms).toISOString();

  it('absent, then applied, then repeated: the applied one is the earlier window of the re-entry', () => {
    const first = absent(undefined, 100_000);
    assert.equal(
      first.state,
      LedgerState.RemovedByService,
      'still the service own: a later re-entry goes the re-entry path',
    );
    assert.equal(first.unapplied, true);
    const second = send(first, 400_000);
    assert.equal(second.unapplied, undefined, 'the second reached ActiveCampaign');
    assert.equal(second.priorFrom, undefined, 'the absent one is not kept');
    const third = send(second, 800_000);
    const w = windowOf(third, OPEN);
    assert.deepEqual(w.earlier, { from: 395_000, to: 406_000 });
    assert.equal(unsubscribeIsOurs(iso(400_500), w), true, 'the date ActiveCampaign kept from the second');
    assert.equal(unsubscribeIsOurs(iso(100_000), w), false, 'nothing dated at the absent one is ours');
  });
  it('the same with an import refused outright (its intent withdrawn) in the run', () => {
    const applied = send(undefined, 100_000);
    const withdrawn = send(applied, 400_000, { unapplied: true, failed: true });
    assert.equal(withdrawn.unapplied, true);
    assert.deepEqual(
      windowOf(withdrawn, OPEN).earlier,
      { from: 95_000, to: 106_000 },
      'the applied one before stays the earlier window',
    );
    const resent = send(withdrawn, 800_000);
    assert.deepEqual(windowOf(resent, OPEN).earlier, { from: 95_000, to: 106_000 });
    const onlyWithdrawn = send(send(undefined, 100_000, { unapplied: true, failed: true }), 400_000);
    assert.equal(
      onlyWithdrawn.priorFrom,
      undefined,
      'a withdrawn first one is not the earlier window of the one that went out',
    );
  });
  it('round-trips through the record and the index', () => {
    const r = recordFor(undefined, {
      op: 'remove',
      occurredAt: 1_000,
      offset: 7,
      sentAt: 100_000,
      confirmedAt: 100_000,
      unapplied: true,
    })!;
    assert.equal(r.unapplied, true);
    assert.deepEqual(decodeLedgerValue(encodeLedgerValue(r)), r);
    const applied = recordFor(undefined, { op: 'remove', occurredAt: 1_000, sentAt: 100_000, confirmedAt: 100_000 })!;
    assert.equal(decodeLedgerValue(encodeLedgerValue(applied))!.unapplied, undefined);
  });
});
