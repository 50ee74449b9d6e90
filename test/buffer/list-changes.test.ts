import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ListChange } from '../../src/buffer/contact-entry.js';
import { ListChanges } from '../../src/buffer/list-changes.js';

const change = (op: 'add' | 'remove', seq: number): ListChange<string> => ({
  op,
  occurredAt: 1_780_000_000_000 + seq,
  seq,
  refs: [`ref${seq}`],
  winner: `ref${seq}`,
  tags: new Set(),
});

/** ListChanges against a Map doing the same operations: the same answers, the same order. */
describe('ListChanges (a contact entry’s change per list)', () => {
  it('answers what a Map answers, in its order, over random operations', () => {
    const ours = new ListChanges<string>();
    const map = new Map<string, ListChange<string>>();
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 2_000; i++) {
      const listId = String(1 + Math.floor(rand() * 6));
      const r = rand();
      if (r < 0.5) {
        const c = change(r < 0.25 ? 'add' : 'remove', i);
        assert.equal(ours.set(listId, c), ours);
        map.set(listId, c);
      } else if (r < 0.75) assert.equal(ours.delete(listId), map.delete(listId), `delete ${listId}`);
      else {
        assert.equal(ours.get(listId), map.get(listId));
        assert.equal(ours.has(listId), map.has(listId));
      }
      assert.equal(ours.size, map.size);
      assert.deepEqual([...ours], [...map]);
      assert.deepEqual([...ours.keys()], [...map.keys()]);
      assert.deepEqual([...ours.values()], [...map.values()]);
    }
  });

  it('iterates the entries as they were when it began: deleting meanwhile skips none', () => {
    const lists = new ListChanges<string>([
      ['1', change('add', 1)],
      ['2', change('remove', 2)],
      ['3', change('add', 3)],
    ]);
    const seen: string[] = [];
    for (const [listId] of lists) {
      seen.push(listId);
      lists.delete(listId);
    }
    assert.deepEqual(seen, ['1', '2', '3']);
    assert.equal(lists.size, 0);
    assert.equal(lists.get('1'), undefined);
  });

  it('keys() and values() are the lists as they were: deleting or setting meanwhile skips or adds none', () => {
    const three = () =>
      new ListChanges<string>([
        ['1', change('add', 1)],
        ['2', change('remove', 2)],
        ['3', change('add', 3)],
      ]);
    const lists = three();
    const keys: string[] = [];
    for (const listId of lists.keys()) {
      keys.push(listId);
      lists.delete(listId);
      lists.set(`new-${listId}`, change('add', 9));
    }
    assert.deepEqual(keys, ['1', '2', '3']);
    assert.deepEqual(lists.keys(), ['new-1', 'new-2', 'new-3']);
    const other = three();
    const seqs: number[] = [];
    for (const c of other.values()) {
      seqs.push(c.seq);
      other.delete(String(c.seq));
    }
    assert.deepEqual(seqs, [1, 2, 3]);
    assert.equal(other.size, 0);
    assert.deepEqual(other.values(), []);
  });

  it('a set of a list it holds replaces its change in place', () => {
    const lists = new ListChanges<string>();
    lists.set('1', change('add', 1)).set('2', change('add', 2));
    const newer = change('remove', 3);
    lists.set('1', newer);
    assert.deepEqual([...lists.keys()], ['1', '2']);
    assert.equal(lists.get('1'), newer);
  });
});
