import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trimOldest } from '../../src/domain/bounded-map.js';

describe('trimOldest', () => {
  it('deletes the oldest entries first, exactly down to max when max is small', () => {
    const m = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    trimOldest(m, 3);
    assert.deepEqual([...m.keys()], ['a', 'b', 'c'], 'at max: nothing goes');
    m.set('d', 4);
    trimOldest(m, 3);
    assert.deepEqual([...m.keys()], ['b', 'c', 'd']);
  });

  it('once over a large max, deletes a sixteenth more in the same pass, so most inserts delete nothing', () => {
    const m = new Map<number, number>();
    let passes = 0;
    for (let i = 0; i < 10_000; i++) {
      m.set(i, i);
      const before = m.size;
      trimOldest(m, 1_600);
      if (m.size < before) passes++;
      assert.ok(m.size <= 1_600);
    }
    assert.equal(m.get(9_999), 9_999, 'the newest stays');
    assert.equal(m.has(0), false);
    assert.ok(passes <= 100, `${passes} passes for 8,400 entries over the bound`);
    assert.ok(m.size >= 1_500, `${m.size} kept`);
  });
});
