import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountLimiter, SlidingWindow, TokenBucket, type LimiterSettings } from '../src/rate-limit.js';

const settings = (patch: Partial<LimiterSettings> = {}): LimiterSettings => ({
  enabled: true,
  burst: 5,
  requestsPerSecond: 5,
  bulkMultiPerWindow: 3,
  bulkSinglePerWindow: 2,
  windowMs: 60_000,
  importLimiter: 'sliding',
  importLimitScope: 'separate',
  retryAfterMs: 1_000,
  toleranceMs: 20,
  deliveryDelayMs: 0,
  ...patch,
});

describe('TokenBucket', () => {
  it('starts full, refuses when empty and refills at the configured rate', () => {
    const bucket = new TokenBucket(5, 5, 0);
    for (let i = 0; i < 5; i++) assert.equal(bucket.tryTake(0), true, `request ${i + 1}`);
    assert.equal(bucket.tryTake(0), false);
    assert.equal(bucket.remaining(0), 0);
    assert.equal(bucket.tryTake(199), false, 'one token takes 200 ms at 5/s');
    assert.equal(bucket.tryTake(200), true);
    assert.equal(bucket.remaining(10_000), 5, 'never holds more than its capacity');
  });

  it('keeps its tokens when reconfigured, clamped to the new capacity', () => {
    const bucket = new TokenBucket(10, 1, 0);
    bucket.reconfigure(3, 1000, 0);
    assert.equal(bucket.remaining(0), 3);
    for (let i = 0; i < 3; i++) bucket.tryTake(0);
    assert.equal(bucket.tryTake(0), false);
    assert.equal(bucket.tryTake(1), true, '1000/s refills a token per millisecond');
  });
});

describe('SlidingWindow', () => {
  it('admits `limit` requests per window and frees a slot when the oldest leaves the window', () => {
    const w = new SlidingWindow(3, 1_000);
    assert.equal(w.tryAcquire(0), true);
    assert.equal(w.tryAcquire(400), true);
    assert.equal(w.tryAcquire(800), true);
    assert.equal(w.tryAcquire(999), false);
    assert.equal(w.wouldAdmit(999), false);
    assert.equal(w.wouldAdmit(1_000), true, 'the request at 0 left the window');
    assert.equal(w.tryAcquire(1_000), true);
    assert.equal(w.tryAcquire(1_300), false, 'the requests at 400 and 800 are still in it');
  });
});

describe('AccountLimiter', () => {
  it('admits the burst, then refuses with the configured Retry-After and Remaining 0', () => {
    const limiter = new AccountLimiter(settings(), 0);
    const remaining = Array.from({ length: 5 }, () => limiter.admit(0).remaining);
    assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
    const refused = limiter.admit(0);
    assert.deepEqual(refused, { ok: false, remaining: 0, retryAfterMs: 1_000, early: false, client: '' });
    assert.equal(limiter.overLimitTotal, 1);
    assert.equal(limiter.violations, 0, 'the first refusal is the signal, not a violation');
  });

  it('does not count requests in flight when the first refusal was sent', () => {
    const limiter = new AccountLimiter(settings({ deliveryDelayMs: 5 }), 0);
    for (let i = 0; i < 6; i++) limiter.admit(0);
    // Reached the client at 5; requests arriving before 5 + 20 ms were sent before it knew.
    assert.equal(limiter.admit(10).ok, false);
    assert.equal(limiter.admit(24).ok, false);
    assert.equal(limiter.violations, 0);
    assert.equal(limiter.overLimitTotal, 3);
  });

  it('counts a request that arrives before the announced Retry-After elapsed, even when the bucket admits it', () => {
    const limiter = new AccountLimiter(settings(), 0);
    for (let i = 0; i < 6; i++) limiter.admit(0);
    const early = limiter.admit(500); // 2.5 tokens are back, but Retry-After said 1 s
    assert.equal(early.ok, true);
    assert.equal(early.early, true);
    assert.equal(limiter.violations, 1);
    assert.equal(limiter.admit(990).early, false, 'within the 20 ms tolerance of the Retry-After');
    assert.equal(limiter.admit(1_000).early, false);
    assert.equal(limiter.violations, 1);
  });

  it('judges each client only by the Retry-After it was sent: another instance on the account never got it', () => {
    const limiter = new AccountLimiter(settings(), 0);
    for (let i = 0; i < 5; i++) limiter.admit(0, i % 2 ? 'b' : 'a');
    assert.equal(limiter.admit(0, 'a').ok, false, 'a is refused: the signal reaches a');
    const other = limiter.admit(500, 'b'); // inside a's Retry-After (2.5 tokens back), but b was never told
    assert.deepEqual([other.ok, other.early], [true, false]);
    assert.equal(limiter.violations, 0);
    assert.equal(limiter.admit(510, 'b').ok, true);
    assert.equal(
      limiter.admit(510, 'b').ok,
      false,
      'the bucket is empty for b as for anyone: over the limit, and now b is told',
    );
    assert.equal(limiter.overLimitTotal, 2);
    assert.equal(limiter.violations, 0, "b's first refusal is its signal");
    assert.equal(limiter.admit(700, 'a').early, true, 'a ignoring its own Retry-After is still a violation');
    assert.equal(limiter.violations, 1);
  });

  it(
    'counts an over-limit request after the signal, ' + 'but forgives one the bucket would admit within the tolerance',
    () => {
      const limiter = new AccountLimiter(settings({ retryAfterMs: 100 }), 0);
      for (let i = 0; i < 6; i++) limiter.admit(0); // signal at 0, Retry-After until 100
      for (let i = 0; i < 4; i++) assert.equal(limiter.admit(1_000).ok, true); // 5 tokens back
      assert.equal(limiter.admit(1_000).ok, true);
      const jitter = limiter.admit(1_190); // next token at 1_200: 10 ms early
      assert.equal(jitter.ok, false);
      assert.equal(limiter.violations, 0, 'timer jitter within 20 ms is not ignoring the signal');
      assert.equal(limiter.admit(1_400).ok, true); // the Retry-After of the jitter refusal ended at 1_290
      assert.equal(limiter.admit(1_400).ok, true); // the bucket is empty again
      const ignored = limiter.admit(1_410); // the next token is due at 1_600
      assert.equal(ignored.ok, false);
      assert.equal(limiter.violations, 1);
      assert.equal(limiter.overLimitTotal, 3);
    },
  );

  it('applies the per-window bulk limits separately for single and multi requests, and counts ignored refusals', () => {
    const limiter = new AccountLimiter(settings({ requestsPerSecond: 1_000, burst: 100 }), 0);
    const bulk = (kind: 'single' | 'multi', now: number): boolean =>
      limiter.admitBulk(kind, now, limiter.admit(now)).ok;
    assert.deepEqual(
      [bulk('multi', 0), bulk('multi', 0), bulk('multi', 0), bulk('multi', 0)],
      [true, true, true, false],
    );
    assert.deepEqual([bulk('single', 0), bulk('single', 0), bulk('single', 0)], [true, true, false]);
    assert.equal(limiter.violations, 0);
    assert.equal(bulk('multi', 30_000), false, 'still inside the minute');
    assert.equal(limiter.violations, 1);
    assert.equal(bulk('multi', 60_000), true);
    assert.equal(limiter.overLimitTotal, 3);
  });

  it('when disabled admits everything and counts nothing', () => {
    const limiter = new AccountLimiter(settings({ enabled: false }), 0);
    for (let i = 0; i < 1_000; i++) {
      const a = limiter.admit(0);
      assert.equal(a.ok && limiter.admitBulk('single', 0, a).ok, true);
    }
    assert.equal(limiter.remaining(0), 5);
    assert.equal(limiter.overLimitTotal, 0);
  });

  it('takes new settings without losing its state', () => {
    const limiter = new AccountLimiter(settings(), 0);
    for (let i = 0; i < 5; i++) limiter.admit(0);
    limiter.configure(settings({ requestsPerSecond: 1_000 }), 0);
    assert.equal(limiter.admit(0).ok, false, 'the bucket is still empty');
    assert.equal(limiter.admit(1).ok, true, 'and refills at the new rate');
  });
});
