import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateBudget, type BudgetRates, type Spend } from '../../src/deliver/budget.js';
import { mulberry32 } from '../../src/sample/events.js';

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
 * with idle gaps now and then. Returns the send times per kind ('request' holds every send).
 */
function run(budget: RateBudget, sends: number, seed: number, onSend?: (i: number, now: number) => void) {
  const rand = mulberry32(seed);
  const times: Record<Spend, number[]> = { request: [], import: [], 'single-import': [] };
  let now = 0;
  for (let i = 0; i < sends; i++) {
    const r = rand();
    const kind: Spend = r < 0.5 ? 'request' : r < 0.92 ? 'import' : 'single-import';
    if (rand() < 0.02) now += rand() * 5_000;
    now = budget.readyAt(kind, now);
    assert.ok(budget.readyAt(kind, now) <= now, 'readyAt must be stable at the time it names');
    budget.spend(kind, now);
    times.request.push(now);
    if (kind !== 'request') times[kind].push(now);
    onSend?.(i, now);
  }
  return times;
}

describe('RateBudget: even pacing never exceeds a window', () => {
  for (const [name, rates] of [['ActiveCampaign limits', AC], ['service defaults', DEFAULTS]] as const) {
    it(`${name}: no 1 s window over the request rate, no 60 s window over the import rates`, () => {
      const times = run(new RateBudget(rates), 20_000, 1);
      assert.ok(busiestWindow(times.request, 1_000) <= Math.ceil(rates.requestsPerSecond));
      assert.ok(busiestWindow(times.import, 60_000) <= rates.importsPerMinute);
      assert.ok(busiestWindow(times['single-import'], 60_000) <= rates.singleImportsPerMinute);
      // The pacing is not vacuous: a greedy sender does reach the limits.
      assert.equal(busiestWindow(times.request, 1_000), Math.ceil(rates.requestsPerSecond));
      assert.ok(busiestWindow(times.import, 60_000) >= rates.importsPerMinute * 0.9);
    });
  }

  it('stays within the windows while 429s and successes change the pace', () => {
    const budget = new RateBudget(AC);
    const rand = mulberry32(2);
    const times = run(budget, 20_000, 3, (_, now) => {
      const r = rand();
      if (r < 0.002) budget.throttled(1_000, now);
      else if (r < 0.003) budget.importsThrottled(60_000, now);
      else budget.succeeded(now);
    });
    assert.ok(busiestWindow(times.request, 1_000) <= AC.requestsPerSecond);
    assert.ok(busiestWindow(times.import, 60_000) <= AC.importsPerMinute);
    assert.ok(busiestWindow(times['single-import'], 60_000) <= AC.singleImportsPerMinute);
  });

  it('share scales every rate', () => {
    const budget = new RateBudget(AC);
    budget.share = 0.5;
    const times = run(budget, 5_000, 4);
    assert.equal(busiestWindow(times.request, 1_000), Math.ceil(AC.requestsPerSecond * 0.5));
    assert.ok(busiestWindow(times.import, 60_000) <= AC.importsPerMinute * 0.5);
    assert.equal(budget.utilisation, 0.5);
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
    const budget = new RateBudget(AC);
    budget.spend('import', 0);
    assert.equal(budget.readyAt('import', 0), 600);
    assert.equal(budget.readyAt('single-import', 0), 200, 'only the request pace applies');
    assert.equal(budget.singleAvailable(200), true);
    budget.spend('single-import', 200);
    assert.equal(budget.singleAvailable(200), false);
    assert.equal(budget.readyAt('single-import', 200), 3_200);
    assert.equal(budget.readyAt('import', 200), 600, 'a single import does not delay bulk imports');
    assert.equal(budget.singleAvailable(3_200), true);
  });

  it('a plain request does not spend an import', () => {
    const budget = new RateBudget(AC);
    budget.spend('request', 0);
    assert.equal(budget.readyAt('import', 200), 200);
  });

  it('no single-contact imports when their rate is 0', () => {
    const budget = new RateBudget({ ...AC, singleImportsPerMinute: 0 });
    assert.equal(budget.singleAvailable(0), false);
    assert.equal(budget.singleAvailable(1e12), false);
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

  it('the bulk "Rate limit exceeded." answer blocks imports only', () => {
    const budget = new RateBudget(AC);
    budget.importsThrottled(60_000, 1_000);
    assert.equal(budget.readyAt('request', 1_000), 1_000);
    assert.equal(budget.readyAt('import', 1_000), 61_000);
    assert.equal(budget.readyAt('single-import', 1_000), 61_000);
    assert.ok(budget.utilisation < 1);
  });

  it('timeScale speeds the pace and the bulk wait, but not a Retry-After the server already scaled', () => {
    const budget = new RateBudget(AC, 10);
    budget.spend('import', 0);
    assert.equal(budget.readyAt('request', 0), 20);
    assert.equal(budget.readyAt('import', 0), 60);
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
    assert.ok(Math.abs(budget.utilisation - 0.8) < 1e-9, `the second 429 did not lower the ceiling: ${budget.utilisation}`);
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

  it('defect 5: single-contact imports draw on the import pace too, so all imports stay within importsPerMinute', () => {
    // Reproduced on the separate budgets: 90 multi + 18 single = 108 imports in a minute.
    const budget = new RateBudget(COMBINED);
    const times: number[] = [];
    const singles: number[] = [];
    let now = 0;
    for (let i = 0; i < 2_000; i++) {
      const kind: Spend = i % 5 === 0 ? 'single-import' : 'import';
      now = budget.readyAt(kind, now);
      budget.spend(kind, now);
      times.push(now);
      if (kind === 'single-import') singles.push(now);
    }
    assert.ok(busiestWindow(times, 60_000) <= 90, `at most 90 imports in any 60 s (${busiestWindow(times, 60_000)})`);
    assert.ok(busiestWindow(singles, 60_000) <= 18, 'at most 18 single-contact imports in any 60 s');
    const separate = new RateBudget(DEFAULTS);
    separate.spend('import', 0);
    assert.equal(separate.readyAt('single-import', 0), 1_000 / 4.5, 'separate: a single import waits only on the request pace');
    const combined = new RateBudget(COMBINED);
    combined.spend('import', 0);
    assert.equal(combined.readyAt('single-import', 0), 60_000 / 90, 'combined: it waits on the import pace');
  });
});
