import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyUpdate,
  entryRefs,
  estimateBytes,
  mergeUnder,
  newEntry,
  serialize,
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
