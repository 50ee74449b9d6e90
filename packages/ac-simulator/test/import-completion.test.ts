import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startSimulator, type Simulator, type SimulatorOptionsInput } from '../src/index.js';
import { drawLatency, seededRandom, type LatencySettings } from '../src/latency.js';
import { api, contacts, finished } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

const FAST: SimulatorOptionsInput = {
  limits: { enabled: false },
  importDelaysMs: { statusFalse: 0, waiting: 0, claimed: 0, active: 0 },
};

async function sim(opts: SimulatorOptionsInput): Promise<Simulator> {
  const s = await startSimulator({ ...FAST, ...opts });
  started.push(s);
  return s;
}

const bulk = async (s: Simulator, prefix: string): Promise<string> =>
  (await api(s, 'POST', '/import/bulk_import', { body: { contacts: contacts(2, prefix) } })).body.batchId;
const info = async (s: Simulator, batchId: string) => (await api(s, 'GET', `/import/info?batchId=${batchId}`)).body;

const LATENCY: LatencySettings = {
  distribution: 'none',
  medianMs: 2_000,
  sigma: 1,
  scaleMs: 1_000,
  alpha: 1.5,
  maxMs: 600_000,
};
const draws = (s: LatencySettings, n: number, seed = 7): number[] => {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => drawLatency(s, random));
};

describe('import completion latency', () => {
  it('is reproducible for a seed and differs between seeds', () => {
    const s = { ...LATENCY, distribution: 'lognormal' as const };
    assert.deepEqual(draws(s, 5), draws(s, 5));
    assert.notDeepEqual(draws(s, 5, 7), draws(s, 5, 8));
    assert.deepEqual(draws(LATENCY, 3), [0, 0, 0], "'none' adds nothing");
  });

  it('lognormal: its median is near medianMs and its tail is long', () => {
    const sorted = draws({ ...LATENCY, distribution: 'lognormal' }, 2_001).sort((a, b) => a - b);
    const median = sorted[1_000]!;
    assert.ok(median > 1_600 && median < 2_500, `median ${median}`);
    assert.ok(sorted[2_000]! > 10 * median, `max ${sorted[2_000]}`);
  });

  it('pareto: never below scaleMs, a heavy tail, and capped at maxMs', () => {
    const values = draws({ ...LATENCY, distribution: 'pareto', maxMs: 50_000 }, 2_000);
    assert.ok(values.every((v) => v >= 1_000 && v <= 50_000));
    const over10x = values.filter((v) => v > 10_000).length; // P = 10^-1.5 ≈ 3.2 %
    assert.ok(over10x > 20 && over10x < 130, `${over10x} of 2000 over 10 × scale`);
    assert.ok(values.includes(50_000), 'the cap is reached');
  });

  it('adds the drawn time to the active phase of an import', async () => {
    const s = await sim({
      importsFinishInOrder: false,
      importLatency: { distribution: 'pareto', scaleMs: 600_000, maxMs: 600_000 },
    });
    const slow = await bulk(s, 'slow');
    s.configure({ importLatency: { distribution: 'none' } });
    await finished(s, await bulk(s, 'quick'));
    assert.equal((await info(s, slow)).status, 'active');
  });
});

describe('importsFinishInOrder', () => {
  it('false: a later import that is due finishes before an earlier one that is not', async () => {
    const s = await sim({ importsFinishInOrder: false, importDelaysMs: { active: 600_000 } });
    const first = await bulk(s, 'first');
    s.configure({ importDelaysMs: { active: 0 } });
    await finished(s, await bulk(s, 'second'));
    assert.equal((await info(s, first)).status, 'active');
    assert.equal(s.snapshot().imports.outstanding, 1);
  });
});

describe('stuckImports', () => {
  it("next: the next import stays 'active' for ever, holds up no later import, and applies nothing", async () => {
    const s = await sim({ stuckImports: { next: 1 } });
    const stuck = await bulk(s, 'stuck');
    assert.equal(s.options.stuckImports.next, 0, 'the count went down');
    const done = await finished(s, await bulk(s, 'after'));
    assert.equal(done.status, 'completed');
    assert.deepEqual(await info(s, stuck), { status: 'active', success: [], failure: [] });
    const snap = s.snapshot();
    assert.deepEqual([snap.imports.stuck, snap.imports.outstanding, snap.imports.completed], [1, 1, 1]);
    assert.equal(snap.lists['1']!.members['stuck0@example.com'], undefined);
    const aggregates = (await api(s, 'GET', '/import/bulk_import')).body;
    assert.equal(aggregates.outstanding[0].batches, '1');
  });

  it('status false: the batchId answers {status:false} for ever', async () => {
    const s = await sim({ stuckImports: { next: 1, status: false } });
    const stuck = await bulk(s, 'never');
    await finished(s, await bulk(s, 'after'));
    assert.deepEqual(await info(s, stuck), { status: false });
  });

  it('share: a seeded share of imports gets stuck; share 0 none', async () => {
    const s = await sim({ stuckImports: { share: 0.5 }, seed: 42 });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await bulk(s, `s${i}-`));
    const stuck = s.snapshot().imports.stuck;
    assert.ok(stuck > 2 && stuck < 18, `${stuck} of 20 stuck`);
    s.configure({ stuckImports: { share: 0 } });
    await finished(s, await bulk(s, 'last'));
    assert.equal(s.snapshot().imports.stuck, stuck);
    assert.throws(() => s.configure({ stuckImports: { share: 2 } }), /stuckImports\.share/);
  });
});
