import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionTracker } from '../../src/offsets/tracker.js';
import { mulberry32 } from '../../src/dev/sample/events.js';

describe('PartitionTracker', () => {
  it('commits one past the highest contiguous settled offset', () => {
    const t = new PartitionTracker();
    for (const o of [0, 1, 2, 3]) assert.equal(t.begin(o), true);
    t.settle(0);
    t.settle(1);
    assert.equal(t.commit(), 2);
    t.settle(3);
    assert.equal(t.commit(), undefined, 'offset 2 is still open');
    t.settle(2);
    assert.equal(t.commit(), 4);
    assert.equal(t.pending, 0);
  });

  it('commit() answers undefined when nothing new settled', () => {
    const t = new PartitionTracker();
    assert.equal(t.commit(), undefined, 'nothing begun');
    t.begin(5);
    assert.equal(t.commit(), undefined, 'begun, not settled');
    t.settle(5);
    assert.equal(t.commit(), 6);
    assert.equal(t.commit(), undefined, 'already committed');
  });

  it('a gap that has not settled holds back everything after it', () => {
    const t = new PartitionTracker();
    for (let o = 10; o < 20; o++) t.begin(o);
    for (let o = 10; o < 20; o++) if (o !== 13) t.settle(o);
    assert.equal(t.commit(), 13);
    assert.equal(t.pending, 7);
    t.settle(13);
    assert.equal(t.commit(), 20);
  });

  it('offsets missing from the log (compacted away) are not waited for', () => {
    const t = new PartitionTracker();
    t.begin(100);
    t.begin(105);
    t.begin(230);
    t.settle(105);
    assert.equal(t.commit(), undefined);
    t.settle(100);
    assert.equal(t.commit(), 106);
    t.settle(230);
    assert.equal(t.commit(), 231);
  });

  it('a multi-part offset settles only when every part has', () => {
    const t = new PartitionTracker();
    t.begin(0, 2);
    t.begin(1);
    t.settle(1);
    t.settle(0);
    assert.equal(t.commit(), undefined, 'one of two parts settled');
    t.settle(0);
    assert.equal(t.commit(), 2);
    t.settle(0);
    assert.equal(t.commit(), undefined, 'an extra settle changes nothing');
  });

  it('an offset with no parts (nothing to deliver) is settled at once', () => {
    const t = new PartitionTracker();
    t.begin(0, 0);
    assert.equal(t.commit(), 1);
  });

  it('refuses re-fetched offsets', () => {
    const t = new PartitionTracker();
    assert.equal(t.begin(3), true);
    assert.equal(t.begin(3), false);
    assert.equal(t.begin(1), false);
    assert.equal(t.begin(4), true);
    // A refused re-fetch must not add parts to the offset already begun.
    t.begin(3, 5);
    t.settle(3);
    t.settle(4);
    assert.equal(t.commit(), 5);
  });

  it('settling an offset never begun is ignored', () => {
    const t = new PartitionTracker();
    t.begin(1);
    t.settle(0);
    t.settle(2);
    assert.equal(t.commit(), undefined);
    assert.equal(t.pending, 1);
  });

  it('skipThrough moves past offsets without records (transaction markers)', () => {
    const t = new PartitionTracker();
    t.begin(10);
    t.begin(11);
    t.skipThrough(14);
    assert.equal(t.begin(12), false, 'skipped offsets count as seen');
    t.settle(11);
    assert.equal(t.commit(), undefined);
    t.settle(10);
    assert.equal(t.commit(), 15);
    assert.equal(t.begin(15), true);
  });

  it('skipThrough alone commits past a batch of nothing but markers', () => {
    const t = new PartitionTracker();
    t.skipThrough(7);
    assert.equal(t.commit(), 8);
    t.skipThrough(5);
    assert.equal(t.commit(), undefined, 'a lower skip is a no-op');
    t.skipThrough(7);
    assert.equal(t.commit(), undefined, 'the same skip again is a no-op');
  });

  it('a share of an offset that commit() has passed, or between two begun offsets, is not open', () => {
    const t = new PartitionTracker();
    t.begin(10, 2);
    t.begin(20);
    assert.equal(t.settle(10, 1), true);
    assert.equal(t.settle(10, 1), false, 'the same share twice');
    assert.equal(t.settle(15), false, 'never begun, between two begun offsets');
    assert.equal(t.settle(10, 0), true);
    assert.equal(t.commit(), 11);
    assert.equal(t.settle(10, 0), false, 'passed by commit()');
    assert.equal(t.settle(20), true);
    assert.equal(t.commit(), 21);
  });

  it('never commits backwards', () => {
    const t = new PartitionTracker();
    t.begin(0);
    t.settle(0);
    assert.equal(t.commit(), 1);
    t.begin(1);
    t.settle(1);
    assert.equal(t.commit(), 2);
    assert.equal(t.commit(), undefined);
  });

  it('matches a reference model over a long sequence with random settle order (array compaction)', () => {
    const rand = mulberry32(7);
    const t = new PartitionTracker();
    /** Offsets begun or skipped through, ascending, with the parts still open (0 = settled). */
    const tracked = new Map<number, number>();
    const open: number[] = [];
    let next = 0;
    let committed = 0;
    const expected = () => {
      // One past the highest tracked offset below the lowest open one.
      let result: number | undefined;
      for (const [offset, left] of tracked) {
        if (left > 0) break;
        result = offset + 1;
      }
      return result;
    };
    for (let step = 0; step < 30_000; step++) {
      if (rand() < 0.4 || open.length === 0) {
        next += rand() < 0.1 ? 1 + Math.floor(rand() * 5) : 0; // offsets missing from the log
        if (rand() < 0.05) {
          t.skipThrough(next);
          tracked.set(next, 0);
        } else {
          const n = 1 + Math.floor(rand() * 3);
          assert.equal(t.begin(next, n), true);
          tracked.set(next, n);
          for (let i = 0; i < n; i++) open.push(next);
        }
        next++;
      } else {
        const [offset] = open.splice(Math.floor(rand() * Math.min(open.length, 50)), 1);
        t.settle(offset!);
        tracked.set(offset!, tracked.get(offset!)! - 1);
      }
      if (step % 97 === 0) {
        const want = expected();
        const got = t.commit();
        if (want !== undefined && want > committed) {
          assert.equal(got, want, `step ${step}`);
          committed = want;
        } else {
          assert.equal(got, undefined, `step ${step}`);
        }
        for (const [offset] of tracked) {
          if (offset >= committed) break;
          tracked.delete(offset);
        }
        assert.equal(t.pending, tracked.size, `step ${step}: pending`);
      }
    }
    assert.ok(committed > 5_000, `committed ${committed}: the run must get far enough to compact the internal array`);
    for (const offset of open) t.settle(offset);
    assert.equal(t.commit(), next);
    assert.equal(t.pending, 0);
  });
});
