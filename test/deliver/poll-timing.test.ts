import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { POLL_STEP, POLL_TARGET, PollTiming, type PollTimingOptions } from '../../src/deliver/poll-timing.js';
import { drawLatency, seededRandom } from '../../packages/ac-simulator/src/latency.js';

const OPTS: PollTimingOptions = {
  initialMs: 1_000,
  minWaitMs: 250,
  maxWaitMs: 10_000,
  maxFirstMs: 300_000,
  target: POLL_TARGET,
  step: POLL_STEP,
};

/**
 * Imports on a virtual clock, each done `latency()` ms after acceptance: polled first at the learnt time, then
 * as PollTiming says until done. Returns the polls per import and the share done at their first poll.
 */
function drive(timing: PollTiming, imports: number, latency: (i: number) => number) {
  let polls = 0;
  let firstDone = 0;
  for (let i = 0; i < imports; i++) {
    const done = latency(i);
    let at = timing.firstAfter;
    polls++;
    timing.firstAnswer(at, at >= done);
    if (at >= done) firstDone++;
    while (at < done) {
      at += timing.againAfter(at);
      polls++;
    }
  }
  return { pollsPerImport: polls / imports, firstDone: firstDone / imports };
}

describe('PollTiming: one poll per import is the common case', () => {
  it('learns a fixed latency it is not told: about one poll per import, polled soon after completion', () => {
    const timing = new PollTiming(OPTS);
    drive(timing, 300, () => 2_100); // warm-up from the 1 s first guess
    const r = drive(timing, 5_000, () => 2_100);
    assert.ok(r.pollsPerImport <= 1.1, `${r.pollsPerImport} polls per import`);
    assert.ok(
      timing.firstAfter >= 2_100 * (1 - POLL_STEP) ** 20 && timing.firstAfter <= 2_100 * 1.4,
      `estimate ${timing.firstAfter}`,
    );
  });

  it('tracks the target quantile of a heavy-tailed latency (lognormal and Pareto)', () => {
    for (const distribution of ['lognormal', 'pareto'] as const) {
      const random = seededRandom(7);
      const s = { distribution, medianMs: 3_000, sigma: 0.8, scaleMs: 2_000, alpha: 1.5, maxMs: 600_000 };
      const timing = new PollTiming(OPTS);
      drive(timing, 500, () => drawLatency(s, random));
      const r = drive(timing, 20_000, () => drawLatency(s, random));
      assert.ok(
        Math.abs(r.firstDone - POLL_TARGET) < 0.02,
        `${distribution}: ${r.firstDone} of first polls found the import done`,
      );
      assert.ok(r.pollsPerImport <= 1.2, `${distribution}: ${r.pollsPerImport} polls per import`);
    }
  });

  it('follows a latency that drops, and one that rises', () => {
    const timing = new PollTiming(OPTS);
    drive(timing, 300, () => 6_000);
    assert.ok(timing.firstAfter >= 6_000);
    drive(timing, 300, () => 2_000);
    assert.ok(timing.firstAfter < 2_000 * 1.4, `came down: ${timing.firstAfter}`);
    drive(timing, 50, () => 8_000);
    assert.ok(timing.firstAfter >= 8_000, `went up: ${timing.firstAfter}`);
  });

  it('a late first poll that found the import done does not lower the estimate', () => {
    const timing = new PollTiming(OPTS);
    timing.firstAnswer(60_000, true);
    assert.equal(timing.firstAfter, 1_000);
    timing.firstAnswer(900, true);
    assert.equal(timing.firstAfter, 1_000 * (1 - POLL_STEP));
  });

  it('every wait is bounded: the first poll by maxFirstMs, later ones by minWaitMs and maxWaitMs', () => {
    const timing = new PollTiming({ ...OPTS, maxFirstMs: 5_000 });
    for (let i = 0; i < 100; i++) timing.firstAnswer(timing.firstAfter, false);
    assert.equal(
      timing.firstAfter,
      5_000,
      'an import that never completes does not push the first poll past the bound',
    );
    for (let i = 0; i < 1_000; i++) timing.firstAnswer(timing.firstAfter, true);
    assert.equal(timing.firstAfter, 250);
    assert.equal(timing.againAfter(100), 250);
    assert.equal(timing.againAfter(4_000), 2_000);
    assert.equal(timing.againAfter(400_000), 10_000);
  });
});
