import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateBudget, type BudgetRates, type ImportSlot, type Spend } from '../../src/deliver/budget.js';
import {
  FixedWindow,
  SlidingWindow,
  WindowBucket,
  type WindowLimit,
} from '../../packages/ac-simulator/src/import-limits.js';
import { mulberry32 } from '../../src/dev/sample/events.js';

/** ActiveCampaign's own limits (CONTRACT.md §2) and the service's defaults (about 90% of them). */
const AC: BudgetRates = { requestsPerSecond: 5, importsPerMinute: 100, singleImportsPerMinute: 20 };
const DEFAULTS: BudgetRates = { requestsPerSecond: 4.5, importsPerMinute: 90, singleImportsPerMinute: 18 };

/** The most timestamps (ascending) that fall in any half-open window [t, t + windowMs). */
function busiestWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/**
 * A greedy sender on a virtual clock: it always sends as soon as the budget allows, mixing kinds at random,
 * with idle gaps now and then. Each import is answered after a random latency (up to `maxLatencyMs`) and
 * "arrives" at a random moment between its send and its answer, as a request does at ActiveCampaign. Returns the
 * send times per kind ('request' holds every send) and the arrival times of imports.
 */
function run(
  budget: RateBudget,
  sends: number,
  seed: number,
  onSend?: (i: number, now: number) => void,
  maxLatencyMs = 0,
) {
  const rand = mulberry32(seed);
  const times: Record<Spend, number[]> = { request: [], import: [], 'single-import': [] };
  const arrivals: Record<'import' | 'single-import', number[]> = { import: [], 'single-import': [] };
  const answers: { at: number; slot: ImportSlot }[] = [];
  let now = 0;
  for (let i = 0; i < sends; i++) {
    const r = rand();
    const kind: Spend = r < 0.5 ? 'request' : r < 0.92 ? 'import' : 'single-import';
    if (rand() < 0.02) now += rand() * 5_000;
    for (;;) {
      // Answers due by the time the budget names are delivered first (they free slots).
      const ready = budget.readyAt(kind, now);
      const next = answers.reduce((m, a) => Math.min(m, a.at), Infinity);
      if (next <= ready) {
        const a = answers.splice(
          answers.findIndex((x) => x.at === next),
          1,
        )[0]!;
        now = Math.max(now, a.at);
        a.slot.answered(a.at);
        continue;
      }
      now = ready;
      break;
    }
    assert.ok(budget.readyAt(kind, now) <= now, 'readyAt must be stable at the time it names');
    const slot = budget.spend(kind, now);
    times.request.push(now);
    if (kind !== 'request') {
      times[kind].push(now);
      const latency = rand() * maxLatencyMs;
      arrivals[kind].push(now + rand() * latency);
      answers.push({ at: now + latency, slot });
    }
    onSend?.(i, now);
  }
  for (const list of Object.values(arrivals)) list.sort((a, b) => a - b);
  return { ...times, arrivals };
}

/** Admits `times` (ascending) through a limiter of the simulator; how many it refuses. */
function refusals(limiter: WindowLimit, times: readonly number[]): number {
  return times.filter((t) => !limiter.tryAcquire(t)).length;
}

describe('RateBudget: the import budgets are sliding 60 s windows', () => {
  for (const [name, rates] of [
    ['ActiveCampaign limits', AC],
    ['service defaults', DEFAULTS],
  ] as const) {
    it(`${name}: no 1 s window over the request rate, no 60 s window over the import rates, at send and at arrival`, () => {
      const t = run(new RateBudget(rates), 20_000, 1, undefined, 2_000);
      assert.ok(busiestWindow(t.request, 1_000) <= Math.ceil(rates.requestsPerSecond));
      assert.ok(busiestWindow(t.import, 60_000) <= rates.importsPerMinute);
      assert.ok(
        busiestWindow(t.arrivals.import, 60_000) <= rates.importsPerMinute,
        'arrivals (between send and answer) too',
      );
      assert.ok(busiestWindow(t.arrivals['single-import'], 60_000) <= rates.singleImportsPerMinute);
      // The window is not vacuous: a greedy sender fills it.
      assert.equal(busiestWindow(t.request, 1_000), Math.ceil(rates.requestsPerSecond));
      assert.equal(busiestWindow(t.arrivals.import, 60_000), rates.importsPerMinute);
    });
  }

  it('ActiveCampaign refuses nothing under a sliding window, fixed windows or a full bucket of its own', () => {
    const t = run(new RateBudget(AC), 20_000, 5, undefined, 3_000);
    for (const make of [
      () => new SlidingWindow(100, 60_000),
      () => new FixedWindow(100, 60_000, 0),
      () => new FixedWindow(100, 60_000, -23_000),
      () => new WindowBucket(100, 60_000, 0),
    ]) {
      const limiter = make();
      assert.equal(refusals(limiter, t.arrivals.import), 0, limiter.constructor.name);
    }
    // ...while even a 1 s shorter window on our side would be refused by the sliding one.
    const rushed = t.arrivals.import.map((x, i) => x - Math.floor(i / 100) * 1_000);
    assert.ok(refusals(new SlidingWindow(100, 60_000), rushed) > 0);
  });

  it('a whole minute of imports may go at once; the next waits until 60 s after the oldest answer', () => {
    const budget = new RateBudget({ requestsPerSecond: 1_000, importsPerMinute: 3, singleImportsPerMinute: 1 });
    const slots: ImportSlot[] = [];
    for (let i = 0; i < 3; i++) {
      const at = budget.readyAt('import', 0);
      assert.ok(at < 10, `import ${i} goes at once (${at})`);
      slots.push(budget.spend('import', at));
    }
    assert.equal(budget.readyAt('import', 10), Infinity, 'unanswered imports hold their slots');
    slots[1]!.answered(500);
    slots[0]!.answered(2_000);
    assert.equal(budget.readyAt('import', 10), 60_500, 'the first slot to free is the earliest answer + 60 s');
    slots[0]!.answered(9_999);
    assert.equal(budget.readyAt('import', 10), 60_500, 'a second answer does not move a slot');
    assert.equal(budget.readyAt('import', 60_500), 60_500);
  });

  it('share scales the windows and the request pace', () => {
    const budget = new RateBudget(AC);
    budget.share = 0.5;
    const t = run(budget, 5_000, 4);
    assert.equal(busiestWindow(t.request, 1_000), Math.ceil(AC.requestsPerSecond * 0.5));
    assert.equal(busiestWindow(t.import, 60_000), AC.importsPerMinute * 0.5);
    assert.equal(budget.utilisation, 0.5);
  });

  // Seen in the rebalance test: the member that took over every partition had its window doubled at once, while
  // the imports the leaving member sent in the last minute still counted at ActiveCampaign (one violation).
  it('a larger share takes effect in the windows one window later; a smaller one at once', () => {
    const budget = new RateBudget({ ...AC, requestsPerSecond: 1_000 });
    budget.setShare(0.5, 0);
    const half = Math.floor(AC.importsPerMinute * 0.5);
    for (let i = 0; i < half; i++) budget.spend('import', i).answered(i);
    assert.ok(budget.readyAt('import', 1_000) > 1_000, 'its half of the window is spent');
    budget.setShare(1, 1_000);
    assert.ok(
      budget.readyAt('import', 1_000) >= 60_000,
      'the other half stays held for a window (the other member spent it)',
    );
    assert.equal(budget.readyAt('import', 61_000), 61_000, "then the whole window is this member's");
    budget.setShare(0.25, 61_000);
    assert.equal(budget.share, 0.25);
  });

  it('a partial import (cut by age) keeps to the even pace; a full one may burst', () => {
    const budget = new RateBudget({ ...AC, requestsPerSecond: 1_000 });
    budget.spend('import', 0).answered(0);
    assert.equal(budget.readyAt('import', 1, true), 600, 'partial: 60 s / 100 after the last import');
    assert.ok(budget.readyAt('import', 1) <= 2, 'full: the window has room');
    for (let t = 1; t < 50; t++) budget.spend('import', t).answered(t);
    assert.equal(
      budget.readyAt('import', 100, true),
      30_000,
      'a burst of 50 full imports pushes partial ones 50 paces on',
    );
  });

  it('a pace under one import a minute is one import per longer window', () => {
    const budget = new RateBudget(AC);
    budget.share = 0.004; // 0.4 imports a minute: one per 150 s
    budget.spend('import', 0).answered(0);
    assert.equal(budget.readyAt('import', 1), 150_000);
  });
});

describe('RateBudget: separate budgets', () => {
  it('paces requests at 1000 / requestsPerSecond ms', () => {
    const budget = new RateBudget(AC);
    assert.equal(budget.readyAt('request', 0), 0);
    budget.spend('request', 0);
    assert.equal(budget.readyAt('request', 0), 200);
    assert.equal(budget.readyAt('request', 500), 500, 'an idle budget is ready at once');
  });

  it('multi-contact and single-contact imports do not wait on each other', () => {
    const budget = new RateBudget({ ...AC, importsPerMinute: 1, singleImportsPerMinute: 1 });
    budget.spend('import', 0).answered(0);
    assert.equal(budget.readyAt('import', 0), 60_000);
    assert.equal(budget.readyAt('single-import', 0), 200, 'only the request pace applies');
    assert.equal(budget.singleAvailable(200), true);
    budget.spend('single-import', 200).answered(300);
    assert.equal(budget.singleAvailable(200), false);
    assert.equal(budget.readyAt('single-import', 400), 60_300);
    assert.equal(budget.readyAt('import', 400), 60_000, 'a single import does not delay bulk imports');
    assert.equal(budget.singleAvailable(60_300), true);
  });

  it('a plain request does not spend an import', () => {
    const budget = new RateBudget({ ...AC, importsPerMinute: 1 });
    budget.spend('request', 0);
    assert.equal(budget.readyAt('import', 200), 200);
  });

  it('no single-contact imports when their rate is 0', () => {
    const budget = new RateBudget({ ...AC, singleImportsPerMinute: 0 });
    assert.equal(budget.singleAvailable(0), false);
    assert.equal(budget.singleAvailable(1e12), false);
    assert.equal(budget.readyAt('single-import', 0), Infinity);
  });
});

/**
 * A greedy sender of requests on a virtual clock, at most 5 in flight, against an account that now and then stalls
 * (about every 30 requests, for 0.2 to 2.2 s): a request sent meanwhile arrives when the stall ends. Otherwise a
 * request arrives up to `maxLatencyMs` after its send and is answered up to `maxLatencyMs` after it arrives. With
 * `metered`, the budget hears of each send and answer, as the account's client tells it (metered-api.ts).
 */
function stalledAccount(
  budget: RateBudget,
  o: { seed: number; metered: boolean; stalls: boolean; maxLatencyMs: number },
) {
  const rand = mulberry32(o.seed);
  const sends: number[] = [];
  const arrivals: number[] = [];
  let answers: { at: number; id: number }[] = [];
  let stall = { from: 0, to: 0 };
  let now = 0;
  while (sends.length < 5_000) {
    for (;;) {
      const ready = budget.readyAt('request', now);
      const next = answers.reduce<{ at: number; id: number } | undefined>(
        (a, b) => (a && a.at <= b.at ? a : b),
        undefined,
      );
      if (next && (next.at <= ready || answers.length >= 5)) {
        now = Math.max(now, next.at);
        answers = answers.filter((a) => a !== next);
        if (o.metered) budget.answered(next.id, now);
      } else if (ready > now) now = ready;
      else break;
    }
    if (o.stalls && now >= stall.to && rand() < 1 / 30) stall = { from: now, to: now + 200 + rand() * 2_000 };
    budget.spend('request', now);
    const id = o.metered ? budget.sent(now) : -1;
    const arrival = now < stall.to ? stall.to : now + rand() * o.maxLatencyMs;
    sends.push(now);
    arrivals.push(arrival);
    answers.push({ at: arrival + rand() * o.maxLatencyMs, id });
  }
  return { sends, arrivals: arrivals.sort((a, b) => a - b) };
}

/**
 * Requests ActiveCampaign's bucket refuses of `arrivals` (ascending): 5 tokens, 5 a second (CONTRACT.md §2), the
 * simulator's request limiter.
 */
const bucketRefusals = (arrivals: readonly number[]) => {
  const bucket = new WindowBucket(5, 1_000, 0);
  return arrivals.filter((at) => !bucket.tryAcquire(at)).length;
};

describe('RateBudget: requests counted when they arrive, between their send and their answer', () => {
  it('answers that come back together hold the next request until the bucket could take it', () => {
    const budget = new RateBudget(AC);
    // The usual latency: 50 ms.
    budget.answered(budget.sent(0), 50);
    const ids: number[] = [];
    for (let i = 1; i <= 5; i++) {
      assert.equal(budget.readyAt('request', i * 200), i * 200, `request ${i} goes at the pace`);
      budget.spend('request', i * 200);
      ids.push(budget.sent(i * 200));
    }
    assert.equal(budget.readyAt('request', 2_000), 2_200, 'five overdue (held up on the way): they may arrive now');
    assert.equal(budget.bunched(2_000), true, 'a slot claimed ahead (the readiness probe) is held too');
    assert.equal(budget.blocked(2_000), false, 'which is no Retry-After');
    budget.answered(ids[0]!, 2_000);
    assert.equal(budget.readyAt('request', 2_000), 2_200, 'the first answer is back, four are still overdue');
    for (const id of ids.slice(1)) budget.answered(id, 2_000);
    assert.equal(budget.readyAt('request', 2_000), 2_200, 'the five may have arrived at 2 000: one gap later');
    assert.equal(budget.bunched(2_200), false);
    budget.spend('request', 2_200);
    budget.answered(budget.sent(2_200), 2_210);
    assert.equal(budget.readyAt('request', 2_210), 2_400, 'then the pace again');
  });

  it('answers at the pace never hold a request up, whatever their latency: the same sends as the pace alone', () => {
    // A latency of 1 s or more at the pace: five requests or more in flight, answered one gap apart.
    for (const latency of [1_000, 1_500, 2_000]) {
      const budget = new RateBudget(AC);
      const ids: number[] = [];
      let now = 0;
      for (let i = 0; i < 50; i++) {
        assert.equal(budget.readyAt('request', now), now, `request ${i} at ${latency} ms`);
        budget.spend('request', now);
        ids.push(budget.sent(now));
        // The answer of the request sent `latency` earlier.
        if (now >= latency) budget.answered(ids[(now - latency) / 200]!, now);
        now += 200;
      }
    }

    for (const rates of [AC, DEFAULTS]) {
      const o = { seed: 3, stalls: false, maxLatencyMs: 100 };
      const metered = stalledAccount(new RateBudget(rates), { ...o, metered: true });
      const paced = stalledAccount(new RateBudget(rates), { ...o, metered: false });
      assert.deepEqual(metered.sends, paced.sends);
    }
  });

  it('an account that stalls now and then refuses nothing, which the pace alone does not achieve', () => {
    for (const [rates, seed] of [
      [AC, 1],
      [DEFAULTS, 2],
    ] as const) {
      const o = { seed, stalls: true, maxLatencyMs: 30 };
      const metered = stalledAccount(new RateBudget(rates), { ...o, metered: true });
      assert.equal(bucketRefusals(metered.arrivals), 0);
      assert.ok(bucketRefusals(stalledAccount(new RateBudget(rates), { ...o, metered: false }).arrivals) > 0);
    }
  });
});

describe('RateBudget: throttling and recovery', () => {
  it('a 429 blocks every kind until Retry-After elapses, then the pace is halved', () => {
    const budget = new RateBudget(AC);
    budget.throttled(30_000, 1_000);
    for (const kind of ['request', 'import', 'single-import'] as const) {
      assert.equal(budget.readyAt(kind, 1_000), 31_000, kind);
      assert.equal(budget.readyAt(kind, 40_000), 40_000, kind);
    }
    assert.equal(budget.utilisation, 0.5);
    budget.spend('request', 31_000);
    assert.equal(budget.readyAt('request', 31_000), 31_400);
  });

  it('a later, shorter 429 does not shorten the block', () => {
    const budget = new RateBudget(AC);
    budget.throttled(30_000, 0);
    budget.throttled(1_000, 100);
    assert.equal(budget.readyAt('request', 100), 30_000);
  });

  it('a 429 slows the request pace only; the bulk "Rate limit exceeded." shrinks the import window', () => {
    /** Imports that go within 10 s of `from` (the request pace allows hundreds). */
    const fill = (b: RateBudget, from: number) => {
      let n = 0;
      for (let t = b.readyAt('import', from); t < from + 10_000; t = b.readyAt('import', t)) {
        b.spend('import', t).answered(t);
        n++;
      }
      return n;
    };
    const budget = new RateBudget({ ...AC, requestsPerSecond: 1_000 });
    budget.throttled(10, 0);
    assert.equal(fill(budget, 100), 100, 'a 429 keeps the whole import window');
    const bulk = new RateBudget({ ...AC, requestsPerSecond: 1_000 });
    bulk.importsThrottled(10, 0);
    assert.equal(fill(bulk, 100), 50, 'the import window halves');
  });

  it('the bulk "Rate limit exceeded." answer blocks imports only', () => {
    const budget = new RateBudget(AC);
    budget.importsThrottled(60_000, 1_000);
    assert.equal(budget.readyAt('request', 1_000), 1_000);
    assert.equal(budget.readyAt('import', 1_000), 61_000);
    assert.equal(budget.readyAt('single-import', 1_000), 61_000);
    assert.ok(budget.utilisation < 1);
  });

  it('timeScale speeds the pace and the bulk wait, but not a Retry-After the server already scaled', () => {
    const budget = new RateBudget({ ...AC, importsPerMinute: 1 }, 10);
    budget.spend('import', 0).answered(0);
    assert.equal(budget.readyAt('request', 0), 20);
    assert.equal(budget.readyAt('import', 0), 6_000);
    budget.importsThrottled(60_000, 100);
    assert.equal(budget.readyAt('import', 100), 6_100);
    budget.throttled(2_000, 100);
    assert.equal(budget.readyAt('request', 100), 2_100);
  });

  it('recovers gradually after successes, up to a ceiling below the pace that tripped the 429', () => {
    const budget = new RateBudget(AC);
    budget.throttled(1_000, 0);
    assert.equal(budget.utilisation, 0.5);
    budget.succeeded(1_000);
    assert.ok(Math.abs(budget.utilisation - 0.52) < 1e-9, `${budget.utilisation}`);
    for (let i = 0; i < 10; i++) budget.succeeded(1_000 + i);
    assert.ok(budget.utilisation > 0.52 && budget.utilisation < 0.8, `${budget.utilisation}`);
    for (let i = 0; i < 100; i++) budget.succeeded(2_000 + i);
    assert.ok(Math.abs(budget.utilisation - 0.8) < 1e-9, `capped at the ceiling: ${budget.utilisation}`);
  });

  it('the ceiling relaxes only after quiet periods', () => {
    const budget = new RateBudget(AC, 1, 300_000);
    budget.throttled(1_000, 0);
    for (let i = 0; i < 100; i++) budget.succeeded(1_000 + i);
    assert.ok(Math.abs(budget.utilisation - 0.8) < 1e-9);
    budget.succeeded(300_000);
    assert.ok(Math.abs(budget.utilisation - 0.82) < 1e-9, `one relax step, then additive: ${budget.utilisation}`);
    let now = 300_000;
    for (let step = 0; step < 10; step++) {
      now += 300_000;
      for (let i = 0; i < 10; i++) budget.succeeded(now);
    }
    assert.equal(budget.utilisation, 1, 'full pace after long enough without a 429');
  });

  it('429s in the same second lower the ceiling once; later ones lower it again', () => {
    const budget = new RateBudget(AC);
    budget.throttled(100, 0);
    budget.throttled(100, 500);
    assert.equal(budget.utilisation, 0.25);
    for (let i = 0; i < 100; i++) budget.succeeded(1_000);
    assert.ok(
      Math.abs(budget.utilisation - 0.8) < 1e-9,
      `the second 429 did not lower the ceiling: ${budget.utilisation}`,
    );
    budget.throttled(100, 5_000);
    for (let i = 0; i < 100; i++) budget.succeeded(6_000);
    assert.ok(Math.abs(budget.utilisation - 0.64) < 1e-9, `ceiling 0.8 × 0.8: ${budget.utilisation}`);
  });

  it('many 429s never stop sending altogether', () => {
    const budget = new RateBudget(AC);
    for (let i = 0; i < 50; i++) budget.throttled(10, i * 2_000);
    assert.ok(budget.utilisation > 0);
    const at = budget.readyAt('request', 200_000);
    budget.spend('request', at);
    assert.ok(Number.isFinite(budget.readyAt('request', at)));
  });
});

describe('RateBudget: one import budget (importScope combined)', () => {
  const COMBINED: BudgetRates = { ...DEFAULTS, importScope: 'combined' };

  it('defect 5: single-contact imports draw on the import window too, so all imports stay within importsPerMinute', () => {
    // Reproduced on the separate budgets: 90 multi + 18 single = 108 imports in a minute.
    const budget = new RateBudget(COMBINED);
    const times: number[] = [];
    const singles: number[] = [];
    let now = 0;
    for (let i = 0; i < 2_000; i++) {
      const kind: Spend = i % 5 === 0 ? 'single-import' : 'import';
      now = budget.readyAt(kind, now);
      budget.spend(kind, now).answered(now + 100);
      times.push(now);
      if (kind === 'single-import') singles.push(now);
    }
    assert.equal(busiestWindow(times, 60_000), 90, `at most 90 imports in any 60 s (${busiestWindow(times, 60_000)})`);
    assert.ok(busiestWindow(singles, 60_000) <= 18, 'at most 18 single-contact imports in any 60 s');
    const fill = (b: RateBudget) => {
      for (let i = 0; i < 90; i++) b.spend('import', b.readyAt('import', 0)).answered(0);
    };
    const separate = new RateBudget(DEFAULTS);
    fill(separate);
    assert.ok(
      separate.readyAt('single-import', 0) < 60_000,
      'separate: a single import waits only on the request pace',
    );
    const combined = new RateBudget(COMBINED);
    fill(combined);
    assert.equal(combined.readyAt('single-import', 0), 60_000, 'combined: it waits for a slot in the import window');
  });
});
