import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyUpdate,
  entryRefs,
  estimateBytes,
  mergeUnder,
  newEntry,
  serialize,
  type ContactEntry,
  type ContactUpdate,
} from '../../src/buffer/contact-entry.js';
import { contactOf, updates } from './updates.js';

describe('applyUpdate: the latest change per list wins', () => {
  it('a first change creates the list change and serializes a subscribe', () => {
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    assert.equal(applyUpdate(entry, u('ann@example.com', '3', 'add', 100, 'e1')), 'new');
    assert.deepEqual(contactOf(entry), { email: 'ann@example.com', subscribe: [{ listid: 3 }] });
    assert.deepEqual(entry.lists.get('3')?.refs, ['e1']);
  });

  it('add → remove → add collapses to one add that settles all three events', () => {
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    applyUpdate(entry, u('ann@example.com', '3', 'add', 100, 'e1'));
    assert.equal(applyUpdate(entry, u('ann@example.com', '3', 'remove', 200, 'e2')), 'replaced');
    assert.deepEqual(contactOf(entry).unsubscribe, [{ listid: 3 }]);
    assert.equal(applyUpdate(entry, u('ann@example.com', '3', 'add', 300, 'e3')), 'replaced');
    assert.equal(entry.lists.size, 1);
    assert.equal(entry.lists.get('3')?.op, 'add');
    assert.deepEqual(entryRefs(entry), ['e1', 'e2', 'e3']);
    assert.deepEqual(contactOf(entry), { email: 'ann@example.com', subscribe: [{ listid: 3 }] });
  });

  it('an older event arriving late is attached to the newer change and does not change it', () => {
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    applyUpdate(entry, u('ann@example.com', '3', 'remove', 500, 'new', { firstName: 'Ann' }));
    const outcome = applyUpdate(
      entry,
      u('ann@example.com', '3', 'add', 400, 'old', { firstName: 'Annie', lastName: 'Old' }),
    );
    assert.equal(outcome, 'superseded-on-arrival');
    const change = entry.lists.get('3');
    assert.equal(change?.op, 'remove');
    assert.equal(change?.occurredAt, 500);
    assert.deepEqual(change?.refs, ['new', 'old']);
    assert.equal(entry.firstName, 'Ann', 'the late event must not overwrite newer profile data');
    assert.equal(entry.lastName, undefined);
  });

  it('equal occurredAt: arrival order decides', () => {
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    const first = u('ann@example.com', '3', 'add', 100, 'first');
    const second = u('ann@example.com', '3', 'remove', 100, 'second');
    applyUpdate(entry, second);
    assert.equal(applyUpdate(entry, first), 'superseded-on-arrival');
    assert.equal(entry.lists.get('3')?.op, 'remove');

    const later = u('ann@example.com', '3', 'add', 100, 'third');
    assert.equal(applyUpdate(entry, later), 'replaced');
    assert.equal(entry.lists.get('3')?.op, 'add');
  });

  it('profile fields take the latest non-empty value; tags add up; excludeAutomations sticks', () => {
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    applyUpdate(
      entry,
      u('ann@example.com', '3', 'add', 1, 'e1', {
        firstName: 'Ann',
        phone: '0123',
        fields: new Map([
          [1, 'gold'],
          [2, 'uk'],
        ]),
        tags: ['vip'],
        excludeAutomations: true,
      }),
    );
    applyUpdate(
      entry,
      u('ann@example.com', '3', 'add', 2, 'e2', {
        firstName: undefined,
        lastName: 'Lee',
        phone: '',
        fields: new Map([
          [1, ''],
          [2, 'fr'],
          [7, 'x'],
        ]),
        tags: ['new'],
      }),
    );
    assert.deepEqual(contactOf(entry), {
      email: 'ann@example.com',
      first_name: 'Ann',
      last_name: 'Lee',
      phone: '0123',
      tags: ['vip', 'new'],
      fields: [
        { id: 1, value: 'gold' },
        { id: 2, value: 'fr' },
        { id: 7, value: 'x' },
      ],
      subscribe: [{ listid: 3 }],
      exclude_automations: true,
    });
  });

  it('a contact in several lists becomes one object with subscribe and unsubscribe ids', () => {
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    applyUpdate(entry, u('ann@example.com', '3', 'add', 1, 'a'));
    applyUpdate(entry, u('ann@example.com', '4', 'remove', 2, 'b'));
    applyUpdate(entry, u('ann@example.com', '5', 'add', 3, 'c'));
    const contact = contactOf(entry);
    assert.deepEqual(contact.subscribe, [{ listid: 3 }, { listid: 5 }]);
    assert.deepEqual(contact.unsubscribe, [{ listid: 4 }]);
    assert.deepEqual(entryRefs(entry).sort(), ['a', 'b', 'c']);
  });

  it('bytes is an estimate until the cut serializes the entry, then the UTF-8 length of the serialized object', () => {
    const u = updates();
    const entry = newEntry<string>('zoe@example.com', 0);
    applyUpdate(entry, u('zoe@example.com', '3', 'add', 1, 'e1', { firstName: 'Zoë', lastName: '山田' }));
    assert.equal(entry.json, '', 'not serialized on an update');
    assert.equal(entry.bytes, estimateBytes(entry));
    serialize(entry);
    assert.ok(
      Math.abs(entry.bytes - estimateBytes(entry)) <= 6,
      `the estimate ${estimateBytes(entry)} is near the exact ${entry.bytes}`,
    );
    assert.equal(entry.bytes, Buffer.byteLength(entry.json));
    assert.ok(entry.bytes > entry.json.length, 'multi-byte characters count as bytes');
  });
});

describe('mergeUnder: an older entry under a newer one', () => {
  it('the newer op wins and the older refs are kept', () => {
    const u = updates();
    const older = newEntry<string>('ann@example.com', 10);
    applyUpdate(older, u('ann@example.com', '3', 'add', 100, 'old', { firstName: 'Ann', lastName: 'Lee' }));
    const newer = newEntry<string>('ann@example.com', 50);
    applyUpdate(newer, u('ann@example.com', '3', 'remove', 200, 'new', { firstName: 'Anna' }));
    mergeUnder(newer, older);
    assert.equal(newer.lists.get('3')?.op, 'remove');
    assert.deepEqual(newer.lists.get('3')?.refs, ['new', 'old']);
    assert.equal(newer.firstName, 'Anna');
    assert.equal(newer.lastName, 'Lee', 'a value only the older entry had is kept');
    assert.equal(newer.since, 10);
    assert.deepEqual(contactOf(newer), {
      email: 'ann@example.com',
      first_name: 'Anna',
      last_name: 'Lee',
      unsubscribe: [{ listid: 3 }],
    });
  });

  it('when the "newer" entry holds an older change (it arrived late), the older entry\'s change wins', () => {
    const u = updates();
    const older = newEntry<string>('ann@example.com', 10);
    applyUpdate(older, u('ann@example.com', '3', 'remove', 300, 'sent'));
    const newer = newEntry<string>('ann@example.com', 50);
    applyUpdate(newer, u('ann@example.com', '3', 'add', 200, 'late'));
    mergeUnder(newer, older);
    assert.equal(newer.lists.get('3')?.op, 'remove');
    assert.deepEqual(newer.lists.get('3')?.refs.sort(), ['late', 'sent']);
  });

  it('lists only the older entry has are carried over', () => {
    const u = updates();
    const older = newEntry<string>('ann@example.com', 0);
    applyUpdate(older, u('ann@example.com', '4', 'add', 1, 'a'));
    const newer = newEntry<string>('ann@example.com', 0);
    applyUpdate(newer, u('ann@example.com', '3', 'add', 2, 'b'));
    mergeUnder(newer, older);
    assert.deepEqual(contactOf(newer).subscribe, [{ listid: 3 }, { listid: 4 }]);
    serialize(newer);
    assert.equal(newer.bytes, Buffer.byteLength(newer.json));
  });
});

describe('profile values: the newest event that says something about a value sets it', () => {
  type Value = string | null | undefined;
  interface Said {
    firstName: Value;
    lastName: Value;
    phone: Value;
    fields: Map<number, string | null>;
  }
  /** A value said about one of a few keys, or nothing ('' and undefined say nothing; null clears). */
  const pick = (rand: () => number, tag: string): Value => {
    const r = rand();
    return r < 0.35 ? undefined : r < 0.45 ? '' : r < 0.55 ? null : `${tag}${Math.floor(rand() * 1000)}`;
  };
  const isBefore = (u: ContactUpdate<string>, c: ContactUpdate<string>) =>
    u.occurredAt < c.occurredAt || (u.occurredAt === c.occurredAt && u.seq < c.seq);
  /** Whether `u` is not older than its list's change when it arrives; it becomes that change if so. */
  const uncoveredIn = (current: Map<string, ContactUpdate<string>>, u: ContactUpdate<string>): boolean => {
    const c = current.get(u.listId);
    if (c && isBefore(u, c)) return false;
    current.set(u.listId, u);
    return true;
  };
  /**
   * What each value should be: the newest (occurredAt, then arrival) update that says something about it, among
   * those that were not older than their list's change when they arrived in their entry (such an update is covered
   * by that change, its profile too). `merged`: the updates of entries merged into one, each in arrival order;
   * `after`: updates to the merged entry (its list changes the newest of the merged ones); `apart`: the updates of
   * one more entry merged in at the end.
   */
  function expected(
    merged: ContactUpdate<string>[][],
    after: ContactUpdate<string>[] = [],
    apart: ContactUpdate<string>[] = [],
  ): Record<string, unknown> {
    const currents = merged.map(() => new Map<string, ContactUpdate<string>>());
    const uncovered = merged.flatMap((part, i) => part.filter((u) => uncoveredIn(currents[i]!, u)));
    const current = new Map<string, ContactUpdate<string>>();
    for (const c of currents)
      for (const [listId, u] of c)
        if (!current.has(listId) || isBefore(current.get(listId)!, u)) current.set(listId, u);
    uncovered.push(...after.filter((u) => uncoveredIn(current, u)));
    const own = new Map<string, ContactUpdate<string>>();
    uncovered.push(...apart.filter((u) => uncoveredIn(own, u)));
    const newest = new Map<string, { at: number; seq: number; value: string }>();
    const say = (key: string, value: Value, u: ContactUpdate<string>) => {
      if (value === undefined || value === '') return;
      const seen = newest.get(key);
      if (seen && (seen.at > u.occurredAt || (seen.at === u.occurredAt && seen.seq > u.seq))) return;
      newest.set(key, { at: u.occurredAt, seq: u.seq, value: value ?? '' });
    };
    for (const u of uncovered) {
      say('first_name', u.firstName, u);
      say('last_name', u.lastName, u);
      say('phone', u.phone, u);
      for (const [id, value] of u.fields) say(`field${id}`, value, u);
    }
    return Object.fromEntries([...newest].map(([k, v]) => [k, v.value]));
  }
  const valuesOf = (entry: ContactEntry<string>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (entry.firstName !== undefined) out.first_name = entry.firstName;
    if (entry.lastName !== undefined) out.last_name = entry.lastName;
    if (entry.phone !== undefined) out.phone = entry.phone;
    for (const [id, value] of entry.fields ?? []) out[`field${id}`] = value;
    return out;
  };

  it('over random updates in random order: one entry, two merged, updates after, a second merge; one stamp or many', () => {
    let seed = 11;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    let singleStamps = 0;
    let perValueStamps = 0;
    for (let round = 0; round < 600; round++) {
      const u = updates();
      const next = (ref: string): ContactUpdate<string> => {
        const said: Said = {
          firstName: pick(rand, 'f'),
          lastName: pick(rand, 'l'),
          phone: pick(rand, 'p'),
          fields: new Map(),
        };
        for (const id of [1, 2]) {
          const v = pick(rand, `c${id}-`);
          if (v !== undefined) said.fields.set(id, v);
        }
        // occurredAt from a small range: ties, and events that arrive after newer ones.
        return u('ann@example.com', String(1 + Math.floor(rand() * 2)), 'add', Math.floor(rand() * 4), ref, said);
      };
      const all = Array.from({ length: 1 + Math.floor(rand() * 6) }, (_, i) => next(`e${i}`));
      const one = newEntry<string>('ann@example.com', 0);
      for (const x of all) applyUpdate(one, x);
      assert.deepEqual(valuesOf(one), expected([all]), `round ${round}: one entry`);
      if (one.stamps && 'occurredAt' in one.stamps) singleStamps++;
      else if (one.stamps) perValueStamps++;
      // The same updates split between an entry sent earlier and one that arrived meanwhile, merged as a requeue does.
      const cut = Math.floor(rand() * (all.length + 1));
      const split = [all.slice(0, cut), all.slice(cut)];
      const older = newEntry<string>('ann@example.com', 0);
      const newer = newEntry<string>('ann@example.com', 0);
      for (const x of split[0]!) applyUpdate(older, x);
      for (const x of split[1]!) applyUpdate(newer, x);
      mergeUnder(newer, older);
      assert.deepEqual(valuesOf(newer), expected(split), `round ${round}: merged at ${cut}`);
      // More updates to the merged entry, then one more entry merged under it: the stamps a merge took must hold.
      const after = Array.from({ length: Math.floor(rand() * 3) }, (_, i) => next(`after${i}`));
      for (const x of after) applyUpdate(newer, x);
      assert.deepEqual(valuesOf(newer), expected(split, after), `round ${round}: updates after the merge`);
      const apart = Array.from({ length: Math.floor(rand() * 3) }, (_, i) => next(`apart${i}`));
      const third = newEntry<string>('ann@example.com', 0);
      for (const x of apart) applyUpdate(third, x);
      mergeUnder(newer, third);
      assert.deepEqual(valuesOf(newer), expected(split, after, apart), `round ${round}: a second merge`);
    }
    assert.ok(
      singleStamps > 50 && perValueStamps > 50,
      `both forms seen: ${singleStamps} single, ${perValueStamps} per value`,
    );
  });
});
