import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FixedWindow, ImportAudit, SlidingWindow, WindowBucket } from '../src/import-limits.js';
import { startSimulator, type Simulator, type SimulatorOptionsInput } from '../src/index.js';
import { AccountLimiter, type LimiterSettings } from '../src/rate-limit.js';
import { api, contacts } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

const admitted = (w: { tryAcquire(now: number): boolean }, times: number[]): number =>
  times.filter((t) => w.tryAcquire(t)).length;
const repeat = (n: number, t: number): number[] => Array.from({ length: n }, () => t);

describe('per-minute import limiters', () => {
  it('sliding: never more than the limit in any window', () => {
    const w = new SlidingWindow(3, 60_000);
    assert.equal(admitted(w, [...repeat(3, 59_000), ...repeat(3, 60_500)]), 3, 'the window still holds the first 3');
    assert.equal(admitted(w, repeat(3, 119_001)), 3);
  });

  it('fixed: counts per window aligned to its start, so twice the limit can pass across a boundary', () => {
    const w = new FixedWindow(3, 60_000, 1_000);
    assert.equal(admitted(w, repeat(4, 60_000)), 3);
    assert.equal(w.wouldAdmit(60_999), false);
    assert.equal(admitted(w, repeat(4, 61_000)), 3, 'a new window began at 61 000');
  });

  it('token-bucket: starts full and refills the limit per window', () => {
    const w = new WindowBucket(3, 60_000, 0);
    assert.equal(admitted(w, repeat(4, 0)), 3);
    assert.equal(w.wouldAdmit(19_999), false);
    assert.equal(admitted(w, repeat(2, 20_000)), 1, 'one token per 20 s');
  });
});

const settings = (patch: Partial<LimiterSettings>): LimiterSettings => ({
  enabled: true,
  burst: 1_000,
  requestsPerSecond: 1_000,
  bulkMultiPerWindow: 3,
  bulkSinglePerWindow: 2,
  windowMs: 60_000,
  importLimiter: 'sliding',
  importLimitScope: 'separate',
  retryAfterMs: 1_000,
  toleranceMs: 0,
  deliveryDelayMs: 0,
  ...patch,
});

describe('importLimitScope', () => {
  it(
    "'combined' counts single-contact imports toward the " +
      'multi-contact budget and refuses by the budget that is full',
    () => {
      const limiter = new AccountLimiter(settings({ importLimitScope: 'combined' }), 0);
      const bulk = (kind: 'single' | 'multi') => limiter.admitBulk(kind, 0, limiter.admit(0));
      assert.deepEqual([bulk('single').ok, bulk('multi').ok, bulk('multi').ok], [true, true, true]);
      assert.deepEqual(bulk('multi'), { ok: false, refusedBy: 'multi' }, '1 single + 2 multi fill the 3');
      assert.deepEqual(bulk('single'), { ok: false, refusedBy: 'multi' });
    },
  );

  it("'separate' keeps the two budgets apart", () => {
    const limiter = new AccountLimiter(settings({}), 0);
    const bulk = (kind: 'single' | 'multi') => limiter.admitBulk(kind, 0, limiter.admit(0));
    assert.deepEqual(
      [bulk('multi').ok, bulk('multi').ok, bulk('multi').ok, bulk('single').ok, bulk('single').ok],
      [true, true, true, true, true],
    );
    assert.deepEqual(bulk('single'), { ok: false, refusedBy: 'single' });
  });
});

describe('ImportAudit', () => {
  it("sees the 2 × limit a 'fixed' limiter lets through across a boundary, where no request was refused", () => {
    const limiter = new AccountLimiter(settings({ importLimiter: 'fixed' }), 0);
    const bulk = (now: number) => limiter.admitBulk('multi', now, limiter.admit(now)).ok;
    assert.deepEqual(
      [bulk(59_000), bulk(59_000), bulk(59_999), bulk(60_000), bulk(60_000), bulk(60_001)],
      [true, true, true, true, true, true],
    );
    const report = limiter.importWindows();
    assert.deepEqual([report.maxInWindow, report.overAll, limiter.overLimitTotal, limiter.violations], [6, 3, 0, 0]);
  });

  it('reports every window over the limits, for all imports together and for single-contact ones', () => {
    const audit = new ImportAudit(60_000, 3, 2);
    for (const t of [0, 10_000, 20_000]) audit.record('multi', t);
    audit.record('single', 59_999);
    assert.deepEqual([audit.snapshot().maxInWindow, audit.snapshot().overAll], [4, 1]);
    audit.record('single', 60_001); // 0 has left: 10 000, 20 000, 59 999, 60 001
    assert.deepEqual(
      [audit.snapshot().overAll, audit.snapshot().maxSingleInWindow, audit.snapshot().overSingle],
      [2, 2, 0],
    );
    audit.record('single', 60_002);
    assert.deepEqual([audit.snapshot().overSingle, audit.snapshot().maxSingleInWindow], [1, 3]);
    audit.record('multi', 200_000);
    assert.equal(audit.snapshot().overAll, 3 + 0, 'the 60 002 arrival made 5 in its window');
  });
});

describe('import limits over HTTP', () => {
  // timeScale 60: a "minute" lasts 1 s; the requests-per-second budget is out of the way.
  const base: SimulatorOptionsInput = {
    timeScale: 60,
    limits: {
      requestsPerSecond: 100_000,
      burst: 100_000,
      bulkMultiPerMinute: 4,
      bulkSinglePerMinute: 2,
      toleranceMs: 0,
    },
  };

  it('switches the algorithm at run time; the new one starts empty', async () => {
    const s = await startSimulator({ ...base, timeScale: 1 });
    started.push(s);
    const bulk = async (i: number) =>
      (await api(s, 'POST', '/import/bulk_import', { body: { contacts: contacts(2, `f${i}-`) } })).status;
    assert.deepEqual(
      [await bulk(0), await bulk(1), await bulk(2), await bulk(3), await bulk(4)],
      [200, 200, 200, 200, 400],
    );
    s.configure({ importLimiter: 'fixed' });
    assert.equal(s.options.importLimiter, 'fixed');
    assert.equal(await bulk(5), 200);
    assert.throws(() => s.configure({ importLimiter: 'leaky' as never }), /importLimiter/);
  });

  it(
    "'combined' refuses a single-contact import once 4 imports in all were made, " + 'naming the 100-style limit',
    async () => {
      const s = await startSimulator({ ...base, timeScale: 1, importLimitScope: 'combined' });
      started.push(s);
      for (let i = 0; i < 4; i++)
        assert.equal(
          (await api(s, 'POST', '/import/bulk_import', { body: { contacts: contacts(i === 0 ? 1 : 2, `p${i}`) } }))
            .status,
          200,
        );
      const refused = await api(s, 'POST', '/import/bulk_import', { body: { contacts: contacts(1, 'late') } });
      assert.equal(refused.status, 400);
      assert.match(refused.body.failureReasons[0], /^Up to 4 imports may be requested per minute\./);
      const report = s.snapshot().counters.importWindows;
      assert.deepEqual([report.maxInWindow, report.overAll, report.maxSingleInWindow], [5, 1, 2]);
    },
  );

  it('audits with the limits switched off as well', async () => {
    const s = await startSimulator({ ...base, timeScale: 1, limits: { enabled: false, bulkMultiPerMinute: 2 } });
    started.push(s);
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await api(s, 'POST', '/import/bulk_import', { body: { contacts: contacts(2, `q${i}`) } })).status,
        200,
      );
    assert.deepEqual(
      [s.snapshot().counters.importWindows.maxInWindow, s.snapshot().counters.importWindows.overAll],
      [3, 1],
    );
  });
});
