import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSimulator, type Simulator, type SimulatorOptionsInput } from '../src/index.js';
import { api } from './helpers.js';

const started: Simulator[] = [];
after(() => Promise.all(started.map((s) => s.close())));

async function sim(opts: SimulatorOptionsInput): Promise<Simulator> {
  const s = await startSimulator(opts);
  started.push(s);
  return s;
}

/** Back-to-back requests until one is refused; returns that answer. */
async function exhaust(s: Simulator) {
  for (let i = 0; i < 50; i++) {
    const r = await api(s, 'GET', '/lists');
    if (r.status === 429) return r;
  }
  throw new Error('no 429 after 50 back-to-back requests');
}

describe('violations', () => {
  it('counts a request sent before the announced Retry-After elapsed', async () => {
    const s = await sim({ limits: { toleranceMs: 0 } });
    const refused = await exhaust(s);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(s.snapshot().counters.violations, 0, 'the first 429 is the signal');
    await api(s, 'GET', '/lists'); // refused, or admitted by the bucket on a slow machine: early either way
    const { counters } = s.snapshot();
    assert.equal(counters.violations, 1);
    assert.equal(counters.overLimitTotal, 2);
  });

  it(
    'counts nothing for a burst in flight before the first 429, ' + 'nor for a client that waits for Retry-After',
    async () => {
      // 12 parallel requests on fresh connections can reach a busy server spread over more than the default 20 ms
      // tolerance; a client that bursts like this needs a larger tolerance to be judged fairly. One token a second
      // (and a Retry-After of 2 s) keeps the count of refusals apart from how long the burst took to arrive on a
      // loaded machine: it would have to take over a second to lose one.
      const s = await sim({ limits: { toleranceMs: 300, requestsPerSecond: 1, retryAfterSeconds: 2 } });
      const burst = await Promise.all(Array.from({ length: 12 }, () => api(s, 'GET', '/lists')));
      const refused = burst.filter((r) => r.status === 429);
      assert.ok(
        refused.length >= 6,
        `at most the burst of 5 is admitted, and one refilled token (refused ${refused.length})`,
      );
      const wait = Number(refused[0]!.headers.get('retry-after')) * 1000;
      assert.equal(wait, 2_000);
      await sleep(wait); // what the client under test is supposed to do
      assert.equal((await api(s, 'GET', '/lists')).status, 200);
      assert.equal(s.snapshot().counters.violations, 0);
      assert.ok(s.snapshot().counters.overLimitTotal >= 5);

      // A request sent before the next Retry-After elapsed, later than the tolerance after that 429, is counted.
      // (exhaust's own refusal counts too: the client had been told, and at one token a second the bucket would
      // not have admitted it within the tolerance.)
      await exhaust(s);
      const before = s.snapshot().counters.violations;
      assert.equal(before, 1);
      await sleep(1_200);
      assert.equal((await api(s, 'GET', '/lists')).status, 200, 'the bucket would admit it, Retry-After said no');
      assert.equal(s.snapshot().counters.violations, before + 1);
    },
  );

  it('counts a bulk import sent after "Rate limit exceeded." while the window is still full', async () => {
    const s = await sim({
      timeScale: 6,
      limits: { bulkMultiPerMinute: 2, requestsPerSecond: 10_000, burst: 10_000, toleranceMs: 0 },
    });
    const bulk = () =>
      api(s, 'POST', '/import/bulk_import', {
        body: { contacts: [{ email: 'a@example.com' }, { email: 'b@example.com' }] },
      });
    assert.deepEqual([(await bulk()).status, (await bulk()).status, (await bulk()).status], [200, 200, 400]);
    assert.equal(s.snapshot().counters.violations, 0);
    assert.equal((await bulk()).status, 400);
    assert.deepEqual([s.snapshot().counters.violations, s.snapshot().counters.bulkRateLimited400], [1, 2]);
  });
});
