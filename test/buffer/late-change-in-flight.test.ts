import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ContactBuffer } from '../../src/buffer/contact-buffer.js';
import { entryRefs } from '../../src/buffer/contact-entry.js';
import { updates } from './updates.js';

/**
 * Edge rule: an older occurredAt that arrives after a newer change for the same contact and list is superseded.
 * Inside the buffer this holds (contact-buffer.test.ts). While the newer change is in flight (sent, not yet
 * confirmed) the buffer consults the entry it sent: the late change settles with that import and is never sent.
 */
it('an older change arriving while the newer one is in flight settles with it and is never sent', () => {
  const u = updates();
  const buffer = new ContactBuffer<string>({ maxContacts: 250, maxBytes: 399_999, lingerMs: 1_000 });
  buffer.add(u('ann@example.com', '3', 'remove', 200, 'newer'), 0);
  const { batch } = buffer.take('age');
  assert.ok(batch);
  assert.equal(buffer.add(u('ann@example.com', '3', 'add', 100, 'older'), 10), 'superseded-in-flight');
  buffer.release(['ann@example.com']);
  assert.deepEqual(buffer.take('age'), {}, 'nothing is left to send');
  assert.deepEqual(
    entryRefs(batch.entries[0]!).sort(),
    ['newer', 'older'],
    'the older event settles with the newer import',
  );
});
