import type { ListChange } from './contact-entry.js';

/**
 * A contact entry's change per list (list id → its newest change): the Map operations the buffer and delivery use,
 * over one flat array of [listId, change, listId, change, …]. Most contacts change in one list or a few, and a
 * Map's smallest table cost about 300 bytes per unsettled contact (measured in a heap snapshot of the benchmark's
 * outage step); this costs about 60. Lookups scan the array, which is faster than hashing at these sizes.
 *
 * Iteration runs over the entries as they were when it began: deleting or setting lists meanwhile (a drop of
 * revoked partitions does) neither skips nor repeats one.
 */
export class ListChanges<R> implements Iterable<[string, ListChange<R>]> {
  private items: (string | ListChange<R>)[];

  constructor(entries?: Iterable<readonly [string, ListChange<R>]>) {
    this.items = [];
    if (entries) for (const [listId, change] of entries) this.set(listId, change);
  }

  get size(): number {
    return this.items.length / 2;
  }

  get(listId: string): ListChange<R> | undefined {
    const at = this.indexOf(listId);
    return at < 0 ? undefined : (this.items[at + 1] as ListChange<R>);
  }

  has(listId: string): boolean {
    return this.indexOf(listId) >= 0;
  }

  /** Replaces the list's change in place, or appends it (Map order: first set first). */
  set(listId: string, change: ListChange<R>): this {
    const at = this.indexOf(listId);
    // A new array of exactly the size (push would reserve room for 16 more: 150 bytes where 30 do).
    if (at < 0) this.items = this.items.length ? this.items.concat(listId, change) : [listId, change];
    else this.items[at + 1] = change;
    return this;
  }

  delete(listId: string): boolean {
    const at = this.indexOf(listId);
    if (at < 0) return false;
    this.items.splice(at, 2);
    return true;
  }

  *keys(): IterableIterator<string> {
    const items = this.items.slice();
    for (let i = 0; i < items.length; i += 2) yield items[i] as string;
  }

  *values(): IterableIterator<ListChange<R>> {
    const items = this.items.slice();
    for (let i = 1; i < items.length; i += 2) yield items[i] as ListChange<R>;
  }

  *entries(): IterableIterator<[string, ListChange<R>]> {
    const items = this.items.slice();
    for (let i = 0; i < items.length; i += 2) yield [items[i] as string, items[i + 1] as ListChange<R>];
  }

  [Symbol.iterator](): IterableIterator<[string, ListChange<R>]> {
    return this.entries();
  }

  private indexOf(listId: string): number {
    const items = this.items;
    for (let i = 0; i < items.length; i += 2) if (items[i] === listId) return i;
    return -1;
  }
}
