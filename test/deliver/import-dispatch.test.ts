import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { ContactBuffer, type Batch, type BufferLimits } from '../../src/buffer/contact-buffer.js';
import type { ContactEntry, ContactUpdate } from '../../src/buffer/contact-entry.js';
import { RateBudget, type BudgetRates } from '../../src/deliver/budget.js';
import { clockOf } from '../../src/deliver/clock.js';
import { ImportDispatch } from '../../src/deliver/import-dispatch.js';
import type { AppliedChange, DeliveryGate } from '../../src/deliver/outcomes.js';
import type { Route } from '../../src/ledger/decide.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { updates } from '../buffer/updates.js';

/**
 * The import dispatch (cut → plan → send) on a virtual clock: time moves only when a test advances it, the budget
 * and the buffer are the real pure ones, and the requests are recorded instead of made.
 */
const FAST: BudgetRates = { requestsPerSecond: 1_000, importsPerMinute: 6_000, singleImportsPerMinute: 1_200 };
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface WorldOptions {
  limits?: Partial<BufferLimits>;
  rates?: BudgetRates;
  /** The ledger's route for a change (default: import); `knows` false sends removes to a lookup. */
  route?: (email: string, listId: string) => Route;
  knows?: boolean;
  maxUnconfirmed?: number;
}

function world(o: WorldOptions = {}) {
  let t = 1_000_000;
  const clock = clockOf(() => t);
  const limits: BufferLimits = { maxContacts: 3, maxBytes: 400_000, lingerMs: 1_000, ...o.limits };
  const buffer = new ContactBuffer<string>(limits);
  const budget = new RateBudget(o.rates ?? FAST);
  const metrics = createMetrics(new Registry());
  const bisectQueue: ContactEntry<string>[][] = [];
  const confirms = { size: 0 };
  const sent: { batch: Batch<string>; resubscribe: Map<string, unknown[]> }[] = [];
  const failed: { email: string; code: string }[] = [];
  const recorded: AppliedChange<string>[] = [];
  const skipped: string[] = [];
  const lookedUp: string[] = [];
  const gate: DeliveryGate<string> | undefined =
    o.route || o.knows !== undefined
      ? {
          route: (_, email, listId) => o.route?.(email, listId) ?? { kind: 'import' },
          intend: async () => {},
          live: () => true,
          knows: () => o.knows ?? true,
        }
      : undefined;
  const dispatch = new ImportDispatch<string>({
    name: 'main',
    limits,
    maxConcurrentRequests: 4,
    maxUnconfirmed: o.maxUnconfirmed ?? 5,
    clock,
    buffer,
    budget,
    gate,
    bisectQueue,
    flight: { requests: 0, sending: 0 },
    confirms,
    outcomes: { skipped: (refs) => void skipped.push(...refs) },
    metrics,
    fx: {
      fail: (entry, _stage, code) => void failed.push({ email: entry.email, code }),
      record: (changes) => void recorded.push(...changes),
    },
    takePlain: () => false,
    lookup: (entries) => void lookedUp.push(...entries.map((e) => e.email)),
    send: async (batch, resubscribe) => void sent.push({ batch, resubscribe }),
  });
  const u = updates();
  const add = (
    email: string,
    listId = '1',
    op: 'add' | 'remove' = 'add',
    extra: Partial<ContactUpdate<string>> = {},
  ) => {
    const ref = `${email}/${listId}/${op}`;
    buffer.add(u(email, listId, op, t, ref, extra), t);
    return ref;
  };
  const emailsSent = (i: number) => sent[i]!.batch.entries.map((e) => e.email);
  const counter = async (
    m: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
    label?: Record<string, string>,
  ) => (await m.get()).values.find((v) => Object.entries(label ?? {}).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  return {
    dispatch,
    buffer,
    budget,
    metrics,
    bisectQueue,
    confirms,
    sent,
    failed,
    recorded,
    skipped,
    lookedUp,
    add,
    emailsSent,
    counter,
    now: () => t,
    advance: (ms: number) => (t += ms),
    run: (draining?: 'shutdown') => dispatch.dispatch(t, draining),
    /** Dispatches, moving the clock to each time it names, until it waits to be woken. */
    runAll: (draining?: 'shutdown') => {
      for (let at = dispatch.dispatch(t, draining); at !== Infinity; at = dispatch.dispatch(t, draining))
        t = Math.max(t, at);
    },
  };
}

describe('ImportDispatch: cut and send', () => {
  it('waits for the linger, then cuts the buffer by age and sends it as one import', async () => {
    const w = world();
    w.add('ann@example.com');
    w.add('bob@example.com');
    assert.equal(w.run(), w.now() + 1_000, 'looks again when the linger ends');
    assert.equal(w.sent.length, 0);
    w.advance(1_000);
    assert.equal(w.run(), Infinity, 'nothing left: woken by the next change');
    assert.deepEqual(
      w.sent.map((s) => s.batch.trigger),
      ['age'],
    );
    assert.deepEqual(w.emailsSent(0), ['ann@example.com', 'bob@example.com']);
    assert.equal(await w.counter(w.metrics.flushes, { trigger: 'age' }), 1);
    assert.ok(w.buffer.inFlight('ann@example.com'), 'the email is in flight until its import is answered');
  });

  it('a drain sends below the linger; a full buffer goes in imports of maxContacts', () => {
    const w = world();
    for (const e of ['a', 'b', 'c', 'd']) w.add(`${e}@example.com`);
    w.runAll('shutdown');
    assert.deepEqual(
      w.sent.map((s) => [s.batch.trigger, s.batch.entries.length]),
      [
        ['shutdown', 3],
        ['shutdown', 1],
      ],
    );
  });

  it('a bisected half goes before anything buffered, as a retry', () => {
    const w = world();
    w.add('half@example.com');
    const half = w.buffer.take('shutdown').batch!.entries;
    w.bisectQueue.push(half);
    w.add('ann@example.com');
    w.runAll('shutdown');
    assert.deepEqual(
      w.sent.map((s) => s.batch.trigger),
      ['retry', 'shutdown'],
    );
    assert.deepEqual(w.emailsSent(0), ['half@example.com']);
    assert.equal(w.bisectQueue.length, 0);
  });

  it('nothing is cut while maxUnconfirmed imports await confirmation', () => {
    const w = world({ maxUnconfirmed: 2 });
    w.confirms.size = 2;
    w.add('ann@example.com');
    assert.equal(w.run('shutdown'), Infinity, 'woken when a confirmation comes back');
    assert.equal(w.sent.length, 0);
    assert.equal(w.buffer.readyContacts, 1, 'the change waits in the buffer');
  });

  it('a contact too large for any request is dead-lettered CONTACT_TOO_LARGE, and the rest still goes', () => {
    const w = world({ limits: { maxBytes: 400 } });
    w.add('big@example.com', '1', 'add', { firstName: 'x'.repeat(500) });
    w.add('ann@example.com');
    w.run('shutdown');
    assert.deepEqual(w.failed, [{ email: 'big@example.com', code: 'CONTACT_TOO_LARGE' }]);
    assert.deepEqual(
      w.sent.map((_, i) => w.emailsSent(i)),
      [['ann@example.com']],
    );
  });
});

describe('ImportDispatch: the budget', () => {
  it('holds a due import back until the window frees, and counts the wait once it goes', async () => {
    const w = world({ rates: { requestsPerSecond: 1_000, importsPerMinute: 1, singleImportsPerMinute: 1 } });
    w.add('ann@example.com');
    w.add('bob@example.com');
    w.run('shutdown');
    await turn(); // the fake answers at once: the import's slot frees 60 s after that
    w.add('cid@example.com');
    w.add('dan@example.com');
    const blockedAt = w.now();
    const wakeAt = w.run('shutdown');
    assert.ok(wakeAt > blockedAt + 50_000, `held back by the window: ${wakeAt - blockedAt} ms`);
    assert.equal(w.sent.length, 1);
    assert.equal(await w.counter(w.metrics.budgetWaitSeconds), 0, 'counted only once the import goes');
    w.advance(wakeAt - blockedAt);
    w.run('shutdown');
    assert.equal(w.sent.length, 2);
    assert.equal(await w.counter(w.metrics.budgetWaitSeconds), (wakeAt - blockedAt) / 1000);
  });

  it('asks the budget again for what the plan leaves: a cut of two that leaves one waits for the single-contact pace', () => {
    const rates = { requestsPerSecond: 1_000, importsPerMinute: 100, singleImportsPerMinute: 1 };
    const w = world({
      rates,
      route: (email) => (email === 'bob@example.com' ? { kind: 'stale' } : { kind: 'import' }),
    });
    w.budget.spend('single-import', w.now()).answered(w.now());
    w.advance(1); // the request pace
    w.add('ann@example.com');
    const bob = w.add('bob@example.com');
    const wakeAt = w.run('shutdown');
    assert.ok(wakeAt > w.now(), 'a single-contact import waits for its own pace');
    assert.equal(w.sent.length, 0);
    assert.deepEqual(w.skipped, [bob], 'the stale change settled unsent');
    assert.equal(w.buffer.readyContacts, 1, 'the rest is back in the buffer');
  });
});

describe('ImportDispatch: the ledger’s say on a cut (plan.ts)', () => {
  it('stale changes settle unsent, an entry left with nothing is released, a refused re-entry is recorded', () => {
    const w = world({
      route: (email, listId) =>
        email === 'bob@example.com' ? { kind: 'stale' } : listId === '2' ? { kind: 'reentry-off' } : { kind: 'import' },
    });
    w.add('ann@example.com', '1');
    w.add('ann@example.com', '2');
    const bob = w.add('bob@example.com');
    w.run('shutdown');
    assert.deepEqual(w.skipped, [bob]);
    assert.equal(w.buffer.holds('bob@example.com'), false, 'released: nothing of it is in flight');
    assert.deepEqual(
      w.recorded.map((c) => [c.email, c.listId, c.refused?.code]),
      [['ann@example.com', '2', 'CONSENT_REENTRY_OFF']],
    );
    assert.deepEqual(w.emailsSent(0), ['ann@example.com']);
    assert.deepEqual([...w.sent[0]!.batch.entries[0]!.lists.keys()], ['1']);
  });

  it('removes of a contact no one knows wait for a lookup; the rest is sent', () => {
    const w = world({ knows: false });
    w.add('gone@example.com', '1', 'remove');
    w.add('ann@example.com', '1', 'add');
    w.run('shutdown');
    assert.deepEqual(w.lookedUp, ['gone@example.com']);
    assert.deepEqual(
      w.sent.map((_, i) => w.emailsSent(i)),
      [['ann@example.com']],
    );
  });

  it('a re-entry leaves the body and goes with the import as a re-subscribe', () => {
    const w = world({ route: () => ({ kind: 'resubscribe', window: { from: 1, to: 2 } }) });
    w.add('ann@example.com');
    w.run('shutdown');
    assert.deepEqual([...w.sent[0]!.resubscribe.keys()], ['ann@example.com']);
    assert.ok(!w.sent[0]!.batch.body.includes('"subscribe"'), `no subscribe in the body: ${w.sent[0]!.batch.body}`);
  });
});
