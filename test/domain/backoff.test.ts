import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDelay } from '../../src/domain/backoff.js';

const policy = { initialMs: 500, maxMs: 30_000 };

describe('Backoff on an injected random source', () => {
  it('doubles from initialMs per failure and counts the attempts', () => {
    const b = new Backoff(policy, () => 1 - Number.EPSILON);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [500, 1_000, 2_000, 4_000]);
    assert.equal(b.attempts, 4);
  });

  it('never waits more than maxMs, however long the failures last', () => {
    const b = new Backoff(policy, () => 1 - Number.EPSILON);
    const waits = Array.from({ length: 200 }, () => b.next());
    assert.equal(Math.max(...waits), 30_000);
    assert.equal(waits.at(-1), 30_000, 'a step past 2^30 stays at the cap, not Infinity or NaN');
  });

  it('jitters each wait within [half, all] of its step', () => {
    assert.equal(
      backoffDelay(3, policy, () => 0),
      1_000,
      'random 0: half the step',
    );
    assert.equal(
      backoffDelay(3, policy, () => 0.5),
      1_500,
    );
    assert.equal(
      backoffDelay(3, policy, () => 1 - Number.EPSILON),
      2_000,
      'random near 1: the whole step',
    );
    assert.equal(
      backoffDelay(99, policy, () => 0),
      15_000,
      'the cap is jittered too',
    );
    let r = 0;
    const spread = new Backoff({ initialMs: 1_000, maxMs: 1_000 }, () => (r = (r + 0.37) % 1));
    for (let i = 0; i < 50; i++) {
      const w = spread.next();
      assert.ok(w >= 500 && w <= 1_000, `${w} within [500, 1000]`);
    }
  });

  it('starts again from initialMs after a reset', () => {
    const b = new Backoff(policy, () => 0);
    b.next();
    b.next();
    b.next();
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.next(), 250, 'first step again, half of 500 at random 0');
    assert.equal(b.attempts, 1);
  });

  it('treats an attempt below 1 as the first', () => {
    assert.equal(
      backoffDelay(0, policy, () => 0),
      250,
    );
  });
});
