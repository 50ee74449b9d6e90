import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContactBuffer, bodyOf, type Batch, type BufferLimits } from '../../src/buffer/contact-buffer.js';
import { entryRefs, estimateBytes } from '../../src/buffer/contact-entry.js';
import { updates } from './updates.js';

const limits: BufferLimits = { maxContacts: 250, maxBytes: 399_999, lingerMs: 1_000 };
const email = (i: number) => `user${i}@example.com`;

/** The body must be the JSON ActiveCampaign receives, and `bytes` its exact UTF-8 length. */
function checkBody(batch: Batch<string>, maxBytes: number): { email: string }[] {
  const parsed = JSON.parse(batch.body) as { contacts: { email: string }[] };
  assert.equal(Buffer.byteLength(batch.body), batch.bytes);
  assert.ok(batch.bytes <= maxBytes, `${batch.bytes} bytes > ${maxBytes}`);
  assert.equal(parsed.contacts.length, batch.entries.length);
  assert.deepEqual(
    parsed.contacts.map((c) => c.email),
    batch.entries.map((e) => e.email),
  );
  return parsed.contacts;
}

describe('ContactBuffer: coalescing', () => {
  it('keeps one entry per email and the latest change per list', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    assert.equal(buffer.add(u(email(1), '3', 'add', 100, 'e1'), 0), 'new');
    assert.equal(buffer.add(u(email(1), '3', 'remove', 200, 'e2'), 1), 'replaced');
    assert.equal(buffer.add(u(email(1), '3', 'add', 300, 'e3'), 2), 'replaced');
    assert.equal(buffer.add(u(email(1), '3', 'remove', 150, 'late'), 3), 'superseded-on-arrival');
    assert.equal(buffer.contacts, 1);
    const { batch } = buffer.take('age');
    assert.ok(batch);
    assert.deepEqual(checkBody(batch, limits.maxBytes), [{ email: email(1), subscribe: [{ listid: 3 }] }]);
    assert.deepEqual(entryRefs(batch.entries[0]!), ['e1', 'e2', 'e3', 'late']);
  });

  it('merges a contact of several lists into one entry with subscribe and unsubscribe ids', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, 'a', { firstName: 'Ann' }), 0);
    buffer.add(u(email(1), '4', 'remove', 2, 'b', { lastName: 'Lee' }), 0);
    buffer.add(u(email(2), '3', 'add', 3, 'c'), 0);
    assert.equal(buffer.contacts, 2);
    const { batch } = buffer.take('age');
    assert.ok(batch);
    assert.deepEqual(checkBody(batch, limits.maxBytes), [
      {
        email: email(1),
        first_name: 'Ann',
        last_name: 'Lee',
        subscribe: [{ listid: 3 }],
        unsubscribe: [{ listid: 4 }],
      },
      { email: email(2), subscribe: [{ listid: 3 }] },
    ]);
  });

  it('tracks the byte total as entries change and leave', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, 'a'), 0);
    buffer.add(u(email(1), '4', 'add', 2, 'b', { firstName: 'Zoë' }), 0);
    buffer.add(u(email(2), '3', 'add', 3, 'c'), 0);
    const expected = [...buffer.entries()].reduce((n, e) => n + estimateBytes(e), 0);
    assert.equal(buffer.bytes, expected, 'until the cut, the estimates');
    const { batch } = buffer.take('age');
    assert.ok(
      batch?.entries.every((e) => e.bytes === Buffer.byteLength(e.json)),
      'the cut serializes and measures each entry',
    );
    assert.equal(buffer.bytes, 0);
    assert.equal(buffer.contacts, 0);
  });
});

describe('ContactBuffer: flush triggers', () => {
  it('nothing is due on an empty buffer', () => {
    const buffer = new ContactBuffer<string>(limits);
    assert.equal(buffer.due(1e12), undefined);
    assert.equal(buffer.dueAt(), undefined);
    assert.deepEqual(buffer.take('age'), {});
  });

  it('size: due at maxContacts, and a batch holds at most maxContacts', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    for (let i = 0; i < 249; i++) buffer.add(u(email(i), '3', 'add', i, `e${i}`), 0);
    assert.equal(buffer.due(0), undefined);
    buffer.add(u(email(249), '3', 'add', 249, 'e249'), 0);
    assert.equal(buffer.due(0), 'size');
    buffer.add(u(email(250), '3', 'add', 250, 'e250'), 0);
    const { batch } = buffer.take('size');
    assert.ok(batch);
    assert.equal(batch.trigger, 'size');
    assert.equal(batch.entries.length, 250);
    checkBody(batch, limits.maxBytes);
    assert.equal(buffer.readyContacts, 1);
    assert.equal(buffer.due(0), undefined);
  });

  it('take honours a smaller maxContacts argument', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    for (let i = 0; i < 5; i++) buffer.add(u(email(i), '3', 'add', i, `e${i}`), 0);
    const { batch } = buffer.take('retry', 1);
    assert.equal(batch?.entries.length, 1);
    assert.equal(batch?.entries[0]?.email, email(0));
    assert.equal(buffer.readyContacts, 4);
  });

  it('bytes: due before the body would pass maxBytes; the cut body parses and fits exactly', () => {
    const u = updates();
    const maxBytes = 2_000;
    const buffer = new ContactBuffer<string>({ ...limits, maxBytes });
    let added = 0;
    while (buffer.due(0) === undefined) {
      // Multi-byte names: bytes, not characters, must be counted.
      buffer.add(
        u(email(added), '3', 'add', added, `e${added}`, {
          firstName: 'Zoë Ærø 山田',
          fields: new Map([[1, 'ü'.repeat(20)]]),
        }),
        0,
      );
      added++;
      assert.ok(added < 100, 'the bytes trigger never fired');
    }
    assert.equal(buffer.due(0), 'bytes');
    const { batch } = buffer.take('bytes');
    assert.ok(batch);
    checkBody(batch, maxBytes);
    assert.ok(batch.entries.length < added, 'the batch must leave what does not fit');
    assert.equal(buffer.readyContacts, added - batch.entries.length);
    // One more entry would have passed the limit.
    const next = [...buffer.entries()][0]!;
    assert.ok(bodyOf([...batch.entries, next]).bytes > maxBytes);
    assert.deepEqual(bodyOf(batch.entries), { body: batch.body, bytes: batch.bytes });
  });

  it('bytes: a body of exactly maxBytes is cut whole; one byte less cuts it in two', () => {
    // With exclude_automations the body has its longest ending, the one the buffer always keeps room for.
    const u = updates();
    const fill = (buffer: ContactBuffer<string>) => {
      buffer.add(u(email(1), '3', 'add', 1, 'a', { excludeAutomations: true }), 0);
      buffer.add(u(email(2), '3', 'add', 1, 'b'), 0);
    };
    const probe = new ContactBuffer<string>(limits);
    fill(probe);
    const exact = probe.take('age').batch!.bytes;

    const fits = new ContactBuffer<string>({ ...limits, maxBytes: exact });
    fill(fits);
    const whole = fits.take('bytes').batch;
    assert.ok(whole);
    assert.equal(whole.entries.length, 2);
    assert.equal(whole.bytes, exact);
    assert.equal((JSON.parse(whole.body) as { exclude_automations?: boolean }).exclude_automations, true);

    const tight = new ContactBuffer<string>({ ...limits, maxBytes: exact - 1 });
    fill(tight);
    assert.equal(tight.due(0), 'bytes');
    const part = tight.take('bytes').batch;
    assert.ok(part);
    assert.equal(part.entries.length, 1);
    checkBody(part, exact - 1);
    assert.equal(tight.readyContacts, 1);
  });

  it('age: due lingerMs after the oldest entry arrived (virtual clock)', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, 'a'), 10_000);
    buffer.add(u(email(2), '3', 'add', 2, 'b'), 10_600);
    assert.equal(buffer.dueAt(), 11_000);
    assert.equal(buffer.due(10_999), undefined);
    assert.equal(buffer.due(11_000), 'age');
    const { batch } = buffer.take('age');
    assert.equal(batch?.trigger, 'age');
    assert.equal(buffer.due(11_000), undefined);
    assert.equal(buffer.dueAt(), undefined, 'everything was taken');
  });

  it('age: a change to an entry already buffered does not restart its clock', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, 'a'), 0);
    buffer.add(u(email(1), '3', 'remove', 2, 'b'), 900);
    assert.equal(buffer.due(1_000), 'age');
  });

  it('an entry too large for any request comes back alone as oversize', () => {
    const u = updates();
    const maxBytes = 300;
    const buffer = new ContactBuffer<string>({ ...limits, maxBytes });
    buffer.add(u(email(1), '3', 'add', 1, 'big', { fields: new Map([[1, 'x'.repeat(400)]]) }), 0);
    buffer.add(u(email(2), '3', 'add', 2, 'small'), 0);
    assert.equal(buffer.due(0), 'bytes');
    const first = buffer.take('bytes');
    assert.equal(first.batch, undefined);
    assert.equal(first.oversize?.email, email(1));
    assert.equal(buffer.inflightContacts, 0, 'an oversize entry is not in flight');
    const second = buffer.take('age');
    assert.ok(second.batch);
    assert.deepEqual(
      checkBody(second.batch, maxBytes).map((c) => c.email),
      [email(2)],
    );
  });
});

describe('ContactBuffer: in-flight emails', () => {
  it('changes for an email whose import is unconfirmed wait in held until release()', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, 'a'), 0);
    const { batch } = buffer.take('age');
    assert.ok(batch);
    assert.equal(buffer.inflightContacts, 1);

    assert.equal(buffer.add(u(email(1), '3', 'remove', 2, 'b'), 10), 'new');
    buffer.add(u(email(2), '3', 'add', 3, 'c'), 10);
    assert.equal(buffer.contacts, 2);
    assert.equal(buffer.readyContacts, 1);
    const next = buffer.take('age');
    assert.deepEqual(
      next.batch?.entries.map((e) => e.email),
      [email(2)],
      'the held email must not be sent',
    );
    assert.deepEqual(buffer.take('age'), {});
    assert.equal(buffer.due(1e9), undefined, 'held entries do not trigger a flush');

    buffer.release([email(1)]);
    assert.equal(buffer.inflightContacts, 1, 'email 2 is still in flight');
    assert.equal(buffer.readyContacts, 1);
    const released = buffer.take('age');
    assert.ok(released.batch);
    assert.deepEqual(checkBody(released.batch, limits.maxBytes), [{ email: email(1), unsubscribe: [{ listid: 3 }] }]);
    assert.deepEqual(entryRefs(released.batch.entries[0]!), ['b']);
  });

  it('release of an email with nothing held only ends its flight', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, 'a'), 0);
    buffer.take('age');
    buffer.release([email(1)]);
    assert.equal(buffer.inflightContacts, 0);
    assert.equal(buffer.contacts, 0);
    buffer.add(u(email(1), '3', 'remove', 2, 'b'), 5);
    assert.equal(buffer.readyContacts, 1, 'after release, changes are ready at once');
  });

  it('requeue() merges an old entry under a newer held change and puts it first', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 100, 'old', { firstName: 'Ann' }), 0);
    buffer.add(u(email(1), '4', 'add', 100, 'old4'), 0);
    const { batch } = buffer.take('age');
    assert.ok(batch);
    buffer.add(u(email(2), '3', 'add', 150, 'other'), 10);
    buffer.add(u(email(1), '3', 'remove', 200, 'new'), 20);
    assert.equal(buffer.readyContacts, 1);

    buffer.requeue(batch.entries);
    assert.equal(buffer.inflightContacts, 0);
    assert.equal(buffer.readyContacts, 2);
    assert.equal(buffer.contacts, 2, 'the held change and the requeued entry became one');
    const again = buffer.take('retry');
    assert.ok(again.batch);
    assert.deepEqual(checkBody(again.batch, limits.maxBytes), [
      { email: email(1), first_name: 'Ann', subscribe: [{ listid: 4 }], unsubscribe: [{ listid: 3 }] },
      { email: email(2), subscribe: [{ listid: 3 }] },
    ]);
    assert.deepEqual(entryRefs(again.batch.entries[0]!).sort(), ['new', 'old', 'old4']);
  });

  it('requeue() without a newer change puts the entry back first, unchanged', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, 'a'), 0);
    const { batch } = buffer.take('age');
    assert.ok(batch);
    buffer.add(u(email(2), '3', 'add', 2, 'b'), 5);
    buffer.requeue(batch.entries);
    assert.equal(
      buffer.bytes,
      [...buffer.entries()].reduce((n, e) => n + e.bytes, 0),
    );
    assert.equal(buffer.dueAt(), 1_000, 'the requeued entry keeps its age');
    const again = buffer.take('retry');
    assert.deepEqual(
      again.batch?.entries.map((e) => e.email),
      [email(1), email(2)],
    );
    assert.equal(again.batch?.body, bodyOf(again.batch?.entries ?? []).body);
  });
});

describe('ContactBuffer: drop(revoked)', () => {
  // Refs are "partition:offset"; partition 1 was revoked.
  const revoked = (ref: string) => ref.startsWith('1:');

  it('removes changes whose refs are revoked and returns those refs', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, '1:10'), 0);
    buffer.add(u(email(1), '3', 'remove', 2, '1:11'), 0);
    buffer.add(u(email(2), '3', 'add', 3, '0:5'), 0);
    const dropped = buffer.drop(revoked);
    assert.deepEqual(dropped.sort(), ['1:10', '1:11']);
    assert.deepEqual(
      [...buffer.entries()].map((e) => e.email),
      [email(2)],
    );
    assert.equal(buffer.bytes, [...buffer.entries()][0]!.bytes);
  });

  it('drops held changes too', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, '0:1'), 0);
    buffer.take('age');
    buffer.add(u(email(1), '3', 'remove', 2, '1:2'), 0);
    assert.deepEqual(buffer.drop(revoked), ['1:2']);
    assert.equal(buffer.contacts, 0);
    assert.equal(buffer.bytes, 0);
  });

  it('keeps the other lists of an entry, and its body no longer names the dropped list', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, '0:1'), 0);
    buffer.add(u(email(1), '4', 'add', 2, '1:2'), 0);
    assert.deepEqual(buffer.drop(revoked), ['1:2']);
    const { batch } = buffer.take('age');
    assert.ok(batch);
    assert.deepEqual(checkBody(batch, limits.maxBytes), [{ email: email(1), subscribe: [{ listid: 3 }] }]);
    assert.deepEqual(entryRefs(batch.entries[0]!), ['0:1']);
  });

  it('drops revoked refs superseded by a kept change, and keeps the change', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, '1:7'), 0);
    buffer.add(u(email(1), '3', 'remove', 2, '0:8'), 0);
    assert.deepEqual(buffer.drop(revoked), ['1:7']);
    const { batch } = buffer.take('age');
    assert.deepEqual(
      batch?.entries.map((e) => entryRefs(e)),
      [['0:8']],
    );
  });

  it('returns nothing when nothing is revoked', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'add', 1, '0:1'), 0);
    const bytes = buffer.bytes;
    assert.deepEqual(buffer.drop(revoked), []);
    assert.equal(buffer.contacts, 1);
    assert.equal(buffer.bytes, bytes);
  });
});

describe('ContactBuffer: forgetFound', () => {
  it('clears what a lookup found for the emails named (all with none named), buffered, held or in flight', () => {
    const u = updates();
    const buffer = new ContactBuffer<string>(limits);
    buffer.add(u(email(1), '3', 'remove', 1, 'a'), 0);
    const { batch } = buffer.take('age');
    assert.ok(batch);
    for (const entry of batch.entries) entry.inAccount = true;
    buffer.requeue(batch.entries); // found: back to the buffer, known to be in the account
    buffer.add(u(email(2), '3', 'remove', 2, 'b'), 0);
    const found = buffer.take('age').batch!.entries;
    for (const entry of found) entry.inAccount = true;
    buffer.requeue(found);
    buffer.forgetFound([email(1)]);
    const after = buffer.take('age').batch!.entries;
    const byEmail = new Map(after.map((e) => [e.email, e.inAccount === true]));
    assert.deepEqual([...byEmail].sort(), [
      [email(1), false],
      [email(2), true],
    ]);
    buffer.forgetFound();
    assert.deepEqual(
      after.map((e) => e.inAccount === true),
      [false, false],
      'with no emails named, nothing found is kept (in flight too)',
    );
  });
});
