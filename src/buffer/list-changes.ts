import type { ListChange } from './contact-entry.js';

/**
 * A contact entry's change per list (list id → its newest change): the Map operations the buffer and delivery use.
 * Most contacts change in one list, so the first list is held in two fields of this object, and any further lists
 * in one flat array of exactly their size, [listId, change, listId, change, …]. A Map's smallest table cost about
 * 300 bytes per unsettled contact, an array of the pairs about 100 (heap snapshots of the benchmark's outage
 * step); one list costs this object alone, 48. Lookups scan, which is faster than hashing at these sizes.
 *
 * keys(), values() and entries() are arrays of the lists as they were when asked: deleting or setting lists while
 * iterating over them (a drop of revoked partitions does) neither skips nor repeats one.
 */
export class ListChanges<R> implements Iterable<[string, ListChange<R>]> {
  /** The list set first among those held, and its change; undefined while nothing is held. */
  private firstId: string | undefined = undefined;
  private first: ListChange<R> | undefined = undefined;
  /** The lists after it, in the order they were set; undefined while there are none. */
  private rest: (string | ListChange<R>)[] | undefined = undefined;

  constructor(entries?: Iterable<readonly [string, ListChange<R>]>) {
    if (entries) for (const [listId, change] of entries) this.set(listId, change);
  }

  get size(): number {
    return (this.firstId === undefined ? 0 : 1) + (this.rest ? this.rest.length / 2 : 0);
  }

  get(listId: string): ListChange<R> | undefined {
    if (this.firstId === listId) return this.first;
    const at = this.indexOf(listId);
    return at < 0 ? undefined : (this.rest![at + 1] as ListChange<R>);
  }

  has(listId: string): boolean {
    return this.firstId === listId || this.indexOf(listId) >= 0;
  }

  /** Replaces the list's change in place, or appends it (Map order: first set first). */
  set(listId: string, change: ListChange<R>): this {
    if (this.firstId === listId) this.first = change;
    else if (this.firstId === undefined) {
      this.firstId = listId;
      this.first = change;
    } else {
      const at = this.indexOf(listId);
      // A new array of exactly the size (push would reserve room for 16 more: 150 bytes where 30 do).
      if (at >= 0) this.rest![at + 1] = change;
      else this.rest = this.rest ? this.rest.concat(listId, change) : [listId, change];
    }
    return this;
  }

  delete(listId: string): boolean {
    if (this.firstId === listId) {
      // The next list, if any, becomes the first: the order stays the order of setting.
      const rest = this.rest;
      this.firstId = rest?.[0] as string | undefined;
      this.first = rest?.[1] as ListChange<R> | undefined;
      this.rest = rest && rest.length > 2 ? rest.slice(2) : undefined;
      return true;
    }
    const at = this.indexOf(listId);
    if (at < 0) return false;
    this.rest!.splice(at, 2);
    if (this.rest!.length === 0) this.rest = undefined;
    return true;
  }

  // Arrays, not generators: a generator and its results cost about 1 KB per event in allocations (an allocation
  // profile of the benchmark's JSON step), and iteration over an array of the lists as they were is as safe.
  keys(): string[] {
    if (this.firstId === undefined) return [];
    const keys = [this.firstId];
    const rest = this.rest;
    if (rest) for (let i = 0; i < rest.length; i += 2) keys.push(rest[i] as string);
    return keys;
  }

  values(): ListChange<R>[] {
    if (this.firstId === undefined) return [];
    const values = [this.first!];
    const rest = this.rest;
    if (rest) for (let i = 1; i < rest.length; i += 2) values.push(rest[i] as ListChange<R>);
    return values;
  }

  entries(): [string, ListChange<R>][] {
    if (this.firstId === undefined) return [];
    const entries: [string, ListChange<R>][] = [[this.firstId, this.first!]];
    const rest = this.rest;
    if (rest) for (let i = 0; i < rest.length; i += 2) entries.push([rest[i] as string, rest[i + 1] as ListChange<R>]);
    return entries;
  }

  [Symbol.iterator](): IterableIterator<[string, ListChange<R>]> {
    return this.entries()[Symbol.iterator]();
  }

  /** The list's index in `rest`, or -1. */
  private indexOf(listId: string): number {
    const rest = this.rest;
    if (rest) for (let i = 0; i < rest.length; i += 2) if (rest[i] === listId) return i;
    return -1;
  }
}
