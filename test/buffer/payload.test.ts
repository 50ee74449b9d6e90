import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyUpdate, mergeUnder, newEntry } from '../../src/buffer/contact-entry.js';
import { contactOf, updates } from './updates.js';

/** Issue 15: the bulk-import payload says exactly what the newest events say. Each case failed on the old buffer. */
describe('payload = the newest events', () => {
  it("defect 2: a leave carries no tags, and a join carries only its own export's tags", () => {
    // Old: tags of every list in the entry were unioned, leaves included: ["segment:vip","segment:news"].
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    applyUpdate(entry, u('ann@example.com', '1', 'remove', 10, 'vip', { tags: ['segment:vip'] }));
    applyUpdate(entry, u('ann@example.com', '2', 'add', 11, 'news', { tags: ['segment:news'] }));
    const c = contactOf(entry);
    assert.deepEqual(c.tags, ['segment:news']);
    assert.deepEqual(c.unsubscribe, [{ listid: 1 }]);
    // The same list flapping back to a remove drops its tags from the body too.
    applyUpdate(entry, u('ann@example.com', '2', 'remove', 12, 'news2', { tags: ['segment:news'] }));
    assert.equal(contactOf(entry).tags, undefined);
  });

  it('defect 4: an older event for another list, arriving late, never overwrites a newer name or phone', () => {
    // Old: "the latest non-empty value" by arrival: the late event's first_name and phone won.
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    applyUpdate(entry, u('ann@example.com', '1', 'add', 200, 'new', { firstName: 'Ann', phone: '222' }));
    applyUpdate(
      entry,
      u('ann@example.com', '2', 'add', 100, 'old', { firstName: 'Annie', phone: '111', lastName: 'Lee' }),
    );
    const c = contactOf(entry);
    assert.equal(c.first_name, 'Ann');
    assert.equal(c.phone, '222');
    assert.equal(c.last_name, 'Lee', 'a value only the older event gave is kept: the newer one said nothing about it');
  });

  it('defect 4: an explicit clear (null) sends an empty value; a missing value keeps it', () => {
    const u = updates();
    const entry = newEntry<string>('ann@example.com', 0);
    applyUpdate(
      entry,
      u('ann@example.com', '1', 'add', 100, 'a', { firstName: 'Ann', phone: '111', fields: new Map([[5, 'gold']]) }),
    );
    applyUpdate(entry, u('ann@example.com', '1', 'add', 200, 'b', { firstName: null, fields: new Map([[5, null]]) }));
    const c = contactOf(entry);
    assert.equal(c.first_name, '', 'cleared');
    assert.equal(c.phone, '111', 'kept');
    assert.deepEqual(c.fields, [{ id: 5, value: '' }]);
  });

  it('a resend merged under a newer entry keeps each value from the newer event', () => {
    const u = updates();
    const older = newEntry<string>('ann@example.com', 0);
    applyUpdate(older, u('ann@example.com', '1', 'add', 300, 'o', { phone: '333', firstName: 'Old' }));
    const newer = newEntry<string>('ann@example.com', 0);
    applyUpdate(newer, u('ann@example.com', '2', 'add', 200, 'n', { phone: '222', lastName: 'Lee' }));
    mergeUnder(newer, older);
    const c = contactOf(newer);
    assert.deepEqual(
      [c.phone, c.first_name, c.last_name],
      ['333', 'Old', 'Lee'],
      'the older entry held the newer phone',
    );
  });
});
