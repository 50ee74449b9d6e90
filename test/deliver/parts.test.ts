import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEntry } from '../../src/buffer/contact-entry.js';
import { scaledClock, type Clock } from '../../src/deliver/clock.js';
import { ABANDONED_FOR_MS, ABANDONED_POLL_MS, Confirmations } from '../../src/deliver/confirmations.js';
import { AccountHealth } from '../../src/deliver/health.js';
import { LateImports } from '../../src/deliver/late-imports.js';
import { pickImport, type PickInput } from '../../src/deliver/pick.js';

/** The scheduler's pure parts, each on a virtual clock (time is an argument). */
const input = (p: Partial<PickInput> = {}): PickInput => ({
  now: 1_000,
  requests: 0,
  maxConcurrentRequests: 5,
  inAir: 0,
  maxUnconfirmed: 20,
  bisectHead: undefined,
  draining: undefined,
  due: 'age',
  dueAt: 1_000,
  readyContacts: 3,
  maxContacts: 250,
  readyAt: () => 0,
  ...p,
});

describe('pickImport', () => {
  it('a bisected half goes first, as a retry; a lone contact spends the single-contact budget', () => {
    assert.deepEqual(pickImport(input({ bisectHead: 1 })), {
      kind: 'send',
      source: 'bisect',
      trigger: 'retry',
      spend: 'single-import',
    });
    assert.deepEqual(pickImport(input({ readyContacts: 1 })), {
      kind: 'send',
      source: 'buffer',
      trigger: 'age',
      spend: 'single-import',
    });
    assert.deepEqual(pickImport(input()), { kind: 'send', source: 'buffer', trigger: 'age', spend: 'import' });
  });

  it('waits for the budget, the bounds, or the buffer', () => {
    assert.deepEqual(pickImport(input({ readyAt: () => 5_000 })), { kind: 'budget', wakeAt: 5_000 });
    const asked: boolean[] = [];
    pickImport(input({ readyAt: (_, partial) => (asked.push(partial), 0) }));
    pickImport(input({ readyContacts: 300, readyAt: (_, partial) => (asked.push(partial), 0) }));
    pickImport(input({ due: 'size', readyContacts: 300, readyAt: (_, partial) => (asked.push(partial), 0) }));
    assert.deepEqual(asked, [true, false, false], 'only an import cut by age with fewer than maxContacts is partial');
    assert.equal(pickImport(input({ inAir: 20 })).kind, 'idle');
    assert.equal(pickImport(input({ requests: 5 })).kind, 'idle');
    assert.deepEqual(pickImport(input({ due: undefined, dueAt: 4_000 })), { kind: 'idle', wakeAt: 4_000, due: false });
    assert.deepEqual(pickImport(input({ due: undefined, draining: 'shutdown' })), {
      kind: 'send',
      source: 'buffer',
      trigger: 'shutdown',
      spend: 'import',
    });
  });
});

describe('Confirmations on a virtual clock', () => {
  const opts = { pollIntervalMs: 1_000, confirmTimeoutMs: 60_000, maxImportResubmits: 2 };
  const entries = () => [newEntry<string>('a@example.com', 0), newEntry<string>('b@example.com', 0)];

  it('polls first after the interval, again at 1.5× the age, and abandons at the deadline (then polled every 5 minutes for a day)', () => {
    const c = new Confirmations<string>(opts, () => 1 - Number.EPSILON); // jitter at its top: the whole step
    c.accept('b1', entries(), new Map(), 0, 0);
    assert.deepEqual(c.due(999).polls, []);
    const [u] = c.due(1_000).polls;
    assert.ok(u);
    u.polls = 1;
    assert.deepEqual(c.answered(u, 'active', undefined, 1_000), { kind: 'again', at: 1_500 });
    assert.ok(c.firstPollAfter > 1_000, 'a first poll too early moves the next first poll later');
    u.polls = 2;
    assert.deepEqual(c.answered(u, false, undefined, 4_000), { kind: 'again', at: 6_000 });
    assert.deepEqual(c.answered(u, 'waiting', undefined, 40_000), { kind: 'again', at: 50_000 }, 'at most 10 s apart');
    u.polls = 4;
    assert.equal(c.backoff(u), 8_000, 'an account that is down: doubles up to 8×');
    const { expired, wakeAt } = c.due(59_999);
    assert.equal(expired.length, 0);
    assert.ok(wakeAt <= 60_000);
    const late = c.due(60_000).expired;
    assert.deepEqual(
      late.map((x) => x.batchId),
      ['b1'],
    );
    assert.equal(c.abandon(late[0]!, 60_000).length, 2, 'its entries come back to be resubmitted');
    assert.equal(c.size, 0, 'outside maxUnconfirmed');
    assert.equal(late[0]!.nextPollAt, 60_000 + ABANDONED_POLL_MS);
    assert.equal(c.abandonedAnswered(late[0]!, 'active', 70_000), false);
    assert.equal(c.abandonedAnswered(late[0]!, 'active', ABANDONED_FOR_MS), true, 'forgotten after a day');
  });

  it('the next import is polled first when the learnt latency says it is likely done', () => {
    const c = new Confirmations<string>(opts);
    for (let i = 0; i < 200; i++) {
      const at = i * 10_000;
      c.accept(`b${i}`, entries(), new Map(), at, at);
      const [u] = c.due(at + c.firstPollAfter).polls;
      assert.ok(u, 'due at the learnt time, not before');
      u.polls = 1;
      const elapsed = u.nextPollAt - at;
      const step = c.answered(u, elapsed >= 3_000 ? 'completed' : 'active', undefined, u.nextPollAt);
      if (step.kind === 'again') {
        u.polls = 2;
        assert.equal(c.answered(u, 'completed', undefined, step.at).kind, 'completed');
      }
    }
    assert.ok(
      c.firstPollAfter > 3_000 * 0.8 && c.firstPollAfter < 3_000 * 1.4,
      `learnt a 3 s latency: ${c.firstPollAfter}`,
    );
    assert.equal(c.size, 0);
  });

  it('counts resubmits per contact and gives up past the bound', () => {
    const c = new Confirmations<string>(opts);
    const es = entries();
    assert.equal(c.resubmit(es).again.length, 2);
    assert.equal(c.resubmit(es).again.length, 2);
    const third = c.resubmit(es);
    assert.deepEqual([third.again.length, third.exhausted.map((x) => x.times)], [0, [3, 3]]);
    c.clear('a@example.com');
    assert.equal(c.count('a@example.com'), 1, 'a cleared contact starts afresh');
  });
});

describe('AccountHealth with an injected random source', () => {
  it('backs off 500 ms × 2^(n−1), jittered, capped; an answer ends it', () => {
    const h = new AccountHealth(4_000, () => 0.5);
    assert.deepEqual(h.failed('SERVER_ERROR', 0), { kind: 'down', code: 'SERVER_ERROR', previous: undefined });
    assert.equal(h.pausedUntil, 375);
    assert.deepEqual(h.failed('SERVER_ERROR', 0), { kind: 'same' });
    assert.equal(h.pausedUntil, 750);
    for (let i = 0; i < 10; i++) h.failed('TIMEOUT', 0);
    assert.equal(h.pausedUntil, 3_000, 'capped at maxBackoffMs, then jittered');
    assert.deepEqual(h.answered(h.mark()), { kind: 'up', code: 'TIMEOUT', after: 12 });
    assert.equal(h.down, false);
  });

  it('an answer to a request sent before the last failure does not end the outage, even in the same millisecond', () => {
    const h = new AccountHealth(4_000, () => 0.5);
    const before = h.mark();
    h.failed('SERVER_ERROR', 100);
    assert.deepEqual(h.answered(before), { kind: 'same' }, 'decided before the outage, read after the failure');
    assert.equal(h.down, true);
    assert.equal(h.pausedUntil, 475, 'the pause holds');
    const after = h.mark();
    const stale = before;
    h.failed('SERVER_ERROR', 100); // a second failure in the same millisecond
    assert.deepEqual(h.answered(after), { kind: 'same' }, 'sent between two failures of one millisecond');
    assert.deepEqual(h.answered(stale), { kind: 'same' });
    assert.deepEqual(h.answered(h.mark()), { kind: 'up', code: 'SERVER_ERROR', after: 2 });
    assert.equal(h.down, false);
  });

  it("retrySoon ends a refused token's pause for a probe sent after the last failure, and keeps the backoff", () => {
    const h = new AccountHealth(60_000, () => 0.5);
    assert.equal(h.retrySoon(0, h.mark()), false, 'up: nothing to end');
    for (let i = 0; i < 3; i++) h.failed('AUTH_FAILED', 0);
    const early = h.mark();
    h.failed('AUTH_FAILED', 0);
    assert.equal(h.failing, 'AUTH_FAILED');
    assert.equal(h.pausedUntil, 3_000);
    assert.equal(h.retrySoon(100, early), false, 'a probe sent before the last failure says nothing of it');
    assert.equal(h.retrySoon(100, h.mark()), true);
    assert.equal(h.pausedUntil, 100, 'the next attempt may go now');
    assert.equal(h.retrySoon(200, h.mark()), false, 'already over');
    h.failed('AUTH_FAILED', 200);
    assert.equal(h.pausedUntil, 200 + 6_000, 'the backoff goes on doubling');
    const outage = new AccountHealth(60_000, () => 0.5);
    outage.failed('SERVER_ERROR', 0);
    assert.equal(outage.retrySoon(100, outage.mark()), false, 'an accepted token says nothing of a 5xx on imports');
  });
});

describe('scaledClock', () => {
  it("runs scale times faster than its base, keeps epoch real, and scales the server's real durations", () => {
    let t = 1_000;
    const timers: number[] = [];
    const base: Clock = {
      now: () => t,
      epoch: () => t,
      fromReal: (ms) => ms,
      after: (ms) => (timers.push(ms), { cancel() {} }),
    };
    const c = scaledClock(20, base);
    t += 100;
    assert.equal(c.now(), 1_000 + 2_000);
    assert.equal(c.epoch(), 1_100);
    assert.equal(c.fromReal(1_000), 20_000);
    c.after(60_000, () => undefined);
    assert.deepEqual(timers, [3_000], 'a minute of budget lasts 3 real seconds');
  });
});

describe('LateImports: an abandoned batch that completes over newer changes', () => {
  const change = (op: 'add' | 'remove', occurredAt: number) => ({ op, occurredAt, winner: `ref-${op}-${occurredAt}` });
  const free = () => false;

  it('re-asserts a newer change of the other op once it is confirmed and the batch has landed; an add over the late remove gets the window between acceptance and landing', () => {
    const late = new LateImports<string>();
    late.abandoned('b1', 100_000, [
      { email: 'a@x.io', listId: '1', op: 'remove' },
      { email: 'b@x.io', listId: '1', op: 'add' },
    ]);
    late.sent('a@x.io', '1', change('add', 5));
    late.sent('b@x.io', '1', change('remove', 6));
    late.confirmed('a@x.io', '1', change('add', 5));
    late.ended('b1', true, 400_000);
    assert.deepEqual(
      late.ready(free),
      [{ email: 'a@x.io', listId: '1', change: change('add', 5), window: { from: 95_000, to: 405_000 } }],
      'confirmed before the landing: at once',
    );
    late.confirmed('b@x.io', '1', change('remove', 6));
    assert.deepEqual(
      late.ready(free),
      [{ email: 'b@x.io', listId: '1', change: change('remove', 6) }],
      'in the air at the landing: once confirmed',
    );
    assert.equal(late.size, 0, 'nothing left watched');
    assert.deepEqual(late.ready(free), []);
  });

  it('nothing to send again: the same op, nothing sent since, a change not applied, a batch that failed or expired', () => {
    const late = new LateImports<string>();
    late.abandoned('b1', 0, [
      { email: 'same@x.io', listId: '1', op: 'add' },
      { email: 'none@x.io', listId: '1', op: 'add' },
      { email: 'dead@x.io', listId: '1', op: 'add' },
    ]);
    late.confirmed('same@x.io', '1', change('add', 9));
    late.sent('dead@x.io', '1', change('remove', 9));
    late.notApplied('dead@x.io', '1');
    late.ended('b1', true, 1_000);
    late.abandoned('b2', 0, [{ email: 'failed@x.io', listId: '1', op: 'add' }]);
    late.confirmed('failed@x.io', '1', change('remove', 9));
    late.ended('b2', false, 1_000);
    assert.deepEqual(late.ready(free), []);
    assert.equal(late.size, 0);
  });

  it('a re-assert waits while the buffer holds its email', () => {
    const late = new LateImports<string>();
    late.abandoned('b1', 0, [{ email: 'a@x.io', listId: '1', op: 'add' }]);
    late.confirmed('a@x.io', '1', change('remove', 9));
    late.ended('b1', true, 1_000);
    assert.deepEqual(
      late.ready(() => true),
      [],
      'held',
    );
    assert.equal(late.pendingCount, 1);
    assert.equal(late.ready(free).length, 1, 'sent once free');
  });
});
