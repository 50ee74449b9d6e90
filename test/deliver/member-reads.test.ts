import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyUpdate, newEntry, type ContactEntry } from '../../src/buffer/contact-entry.js';
import { ListRead, MEMBER_PAGE, membersPage } from '../../src/deliver/list-read.js';
import { MemberReads, readVerdict, review, type ReadRules } from '../../src/deliver/member-reads.js';
import { EmailHashes } from '../../src/deliver/member-set.js';
import { updates } from '../buffer/updates.js';

const change = updates();
const rules: ReadRules = {
  startAt: 3,
  maxMembers: 1_000,
  skewMs: 5_000,
  retainMs: 60_000,
  saving: 1,
  waitMs: 60_000,
  pageWaitMs: 1_000,
};
const START = 1_000_000;

/** An entry of removes only, on these lists, that occurred at `at`. */
function removes(email: string, lists: string[], at = START - 10_000): ContactEntry<string> {
  const e = newEntry<string>(email, 0);
  for (const listId of lists) applyUpdate(e, change(email, listId, 'remove', at, `${email}/${listId}`));
  return e;
}

/** A page of members with ids from `first`, counting up (or down). */
function page(first: number, n: number, step = 1, total?: number) {
  const contacts = Array.from({ length: n }, (_, i) => ({
    id: String(first + i * step),
    email: `M${first + i * step}@Example.com `,
  }));
  return total === undefined ? { contacts } : { contacts, total };
}

describe('EmailHashes: members held as 64-bit hashes', () => {
  it('answers for what it holds, grows, and never holds an email', () => {
    const set = new EmailHashes();
    for (let i = 0; i < 5_000; i++) set.add(`m${i}@example.com`);
    set.add('m1@example.com');
    assert.equal(set.size, 5_000);
    for (let i = 0; i < 5_000; i++) assert.ok(set.has(`m${i}@example.com`));
    let strays = 0;
    for (let i = 0; i < 5_000; i++) if (set.has(`other${i}@example.com`)) strays++;
    assert.equal(strays, 0);
    assert.ok(set.bytes <= 32 * 5_000, `${set.bytes} bytes for 5,000 members`);
  });
});

describe('ListRead: one list read by id pages', () => {
  it('a list of fewer than a page is read by its probe alone', () => {
    const read = new ListRead('1', START, rules, 0);
    assert.deepEqual(read.next(), { listId: '1', limit: MEMBER_PAGE, order: 'desc' });
    read.answered(page(40, 40, -1, 40));
    assert.equal(read.phase, 'done');
    assert.ok(read.has('m40@example.com') && read.has('m1@example.com'), 'emails are normalised');
    assert.equal(read.requests, 1);
  });

  it('a larger one: the probe says how many pages are left; pages go up from the lowest id and stop below the probe', () => {
    const read = new ListRead('1', START, rules, 0);
    read.answered(page(350, MEMBER_PAGE, -1, 350)); // ids 350..251
    assert.equal(read.phase, 'paused');
    assert.equal(read.pagesLeft, 3);
    read.phase = 'reading';
    assert.deepEqual(read.next(), { listId: '1', limit: MEMBER_PAGE, order: 'asc', afterId: 0 });
    read.answered(page(1, MEMBER_PAGE));
    read.answered(page(101, MEMBER_PAGE));
    assert.equal(read.phase, 'reading');
    // A member who joined after the probe has a higher id: the page reaches the probe's ids and the read ends.
    const emails = read.answered(page(201, MEMBER_PAGE));
    assert.equal(read.phase, 'done');
    assert.equal(emails.length, 50, 'only ids below the probe');
    assert.equal(read.memberCount, 350);
    assert.equal(read.requests, 4);
  });

  it('a page out of id order, a probe without a count, or a list over maxMembers ends the read as failed', () => {
    const unordered = new ListRead('1', START, rules, 0);
    unordered.answered(page(10, 5, 1));
    assert.equal(unordered.phase, 'failed', 'the probe must come highest first');
    assert.equal(unordered.has('m10@example.com'), false, 'a failed read answers nothing');
    const uncounted = new ListRead('1', START, rules, 0);
    uncounted.answered(page(500, MEMBER_PAGE, -1));
    assert.equal(uncounted.phase, 'failed');
    const large = new ListRead('1', START, rules, 0);
    large.answered(page(5_000, MEMBER_PAGE, -1, 5_000));
    assert.match(large.failure ?? '', /over the 1000/);
    const backwards = new ListRead('1', START, rules, 0);
    backwards.answered(page(500, MEMBER_PAGE, -1, 500));
    backwards.phase = 'reading';
    backwards.answered(page(1, MEMBER_PAGE));
    backwards.answered(page(50, MEMBER_PAGE));
    assert.equal(backwards.phase, 'failed', 'a page must start above the last one');
  });

  it('covers only removes that occurred skewMs or more before it began', () => {
    const read = new ListRead('1', START, rules, 0);
    assert.ok(read.covers(START - 5_000));
    assert.ok(!read.covers(START - 4_999));
  });
});

describe('readVerdict: what the reads say of an entry of removes only', () => {
  const done = (listId: string, members: number[], startedAt = START) => {
    const r = new ListRead(listId, startedAt, rules, 0);
    r.answered(page(members.length ? Math.max(...members) : 1, members.length, -1, members.length));
    return r;
  };

  it('found on any list: the contact exists; absent only when every list is done and covers its remove', () => {
    const reads = new Map([
      ['1', done('1', [7])],
      ['2', done('2', [])],
    ]);
    const of = (l: string) => reads.get(l);
    assert.equal(readVerdict(removes('m7@example.com', ['2', '1']), of), 'found');
    assert.equal(readVerdict(removes('x@example.com', ['1', '2']), of), 'absent');
    assert.equal(readVerdict(removes('x@example.com', ['1', '3']), of), 'lookup', 'list 3 was not read');
    assert.equal(
      readVerdict(removes('x@example.com', ['1'], START - 1_000), of),
      'lookup',
      'too close to the read: a lookup',
    );
  });

  it('a read under way: wait; a probe, a paused or a failed read: lookup', () => {
    const reading = new ListRead('1', START, rules, 0);
    reading.phase = 'reading';
    assert.equal(
      readVerdict(removes('x@example.com', ['1']), () => reading),
      'wait',
    );
    for (const phase of ['probe', 'paused', 'failed'] as const) {
      reading.phase = phase;
      assert.equal(
        readVerdict(removes('x@example.com', ['1']), () => reading),
        'lookup',
        phase,
      );
    }
  });
});

describe('review: which path the queued lookups take', () => {
  it('a read begins once startAt queued removes on one list are old enough; fewer keep their lookups', () => {
    const queued = ['a', 'b', 'c'].map((n) => removes(`${n}@example.com`, ['1']));
    queued.push(
      removes('d@example.com', ['2']),
      removes('e@example.com', ['2']),
      removes('f@example.com', ['2'], START - 1_000),
    );
    assert.deepEqual(review(queued, new Map(), START, rules), { start: ['1'], resume: [] });
    assert.deepEqual(review(queued, new Map(), START, { ...rules, startAt: 0 }).start, [], '0: lookups only');
  });

  it('no second read of a list while one is under way or failed lately; a done read that is too old is replaced', () => {
    const queued = ['a', 'b', 'c'].map((n) => removes(`${n}@example.com`, ['1']));
    for (const phase of ['probe', 'reading', 'failed'] as const) {
      const r = new ListRead('1', START, rules, 0);
      r.phase = phase;
      assert.deepEqual(review(queued, new Map([['1', r]]), START, rules).start, [], phase);
    }
    const old = new ListRead('1', START - 60_000, rules, 0);
    old.phase = 'done';
    assert.deepEqual(review(queued, new Map([['1', old]]), START, rules).start, ['1']);
  });

  it('a paused read goes on once it would answer at least as many queued lookups as it has pages left', () => {
    const read = new ListRead('1', START, rules, 0);
    read.answered(page(350, MEMBER_PAGE, -1, 350));
    const queued = ['a', 'b'].map((n) => removes(`${n}@example.com`, ['1']));
    assert.deepEqual(
      review(queued, new Map([['1', read]]), START, rules).resume,
      [],
      '2 lookups are cheaper than 3 pages',
    );
    queued.push(removes('c@example.com', ['1']), removes('late@example.com', ['1'], START));
    assert.deepEqual(review(queued, new Map([['1', read]]), START, rules).resume, [read], 'three it covers: as cheap');
    assert.deepEqual(
      review(queued, new Map([['1', read]]), START, { ...rules, saving: 4 }).resume,
      [],
      'saving 4: not before 12',
    );
    for (let i = 0; i < 9; i++) queued.push(removes(`more${i}@example.com`, ['1']));
    assert.deepEqual(review(queued, new Map([['1', read]]), START, { ...rules, saving: 4 }).resume, [read]);
  });
});

describe('membersPage: the shape of a page, checked before anything is read from it', () => {
  it('contacts with ids and emails pass (ids may be numbers); anything else is no page', () => {
    assert.deepEqual(membersPage({ contacts: [{ id: 3, email: 'a@example.com' }], meta: { total: '7' } }), {
      contacts: [{ id: '3', email: 'a@example.com' }],
      total: 7,
    });
    assert.deepEqual(membersPage({ contacts: [] }), { contacts: [] }, 'no meta: no count');
    for (const body of [
      undefined,
      null,
      'text',
      { contacts: {} },
      { contacts: [{ id: '3' }] },
      { contacts: [null] },
      { contacts: [{ id: {}, email: 'a@example.com' }] },
    ]) {
      assert.equal(membersPage(body), undefined, JSON.stringify(body));
    }
  });
});

// Review of the member reads (issue 15): a read answered "member" for any remove, and nothing dropped it.
describe('MemberReads: a read answers only for what has not changed since it began', () => {
  const done = (listId: string, members: number[], startedAt = START) => {
    const r = new ListRead(listId, startedAt, rules, 0);
    r.answered(page(members.length ? Math.max(...members) : 1, members.length, -1, members.length));
    return r;
  };

  it('"found" too only for a remove the read covers: a remove after it began is looked up', () => {
    const read = done('1', [7]);
    assert.equal(
      readVerdict(removes('m7@example.com', ['1']), () => read),
      'found',
    );
    assert.equal(
      readVerdict(removes('m7@example.com', ['1'], START), () => read),
      'lookup',
      'the contact may be gone since its page was read',
    );
  });

  it('an invalidated email is neither found nor absent by a read that began before; a later read answers for it', () => {
    const reads = new MemberReads<string>(rules);
    const queued = ['a', 'b', 'c'].map((n) => removes(`${n}@example.com`, ['1']));
    assert.ok(!reads.review(queued, START, 0), 'a probe begins; nothing goes on yet');
    const [read] = reads.due(0).ready;
    read!.answered(page(7, 1, -1, 1)); // m7 is the one member
    assert.equal(reads.place(removes('m7@example.com', ['1']), 0), 'found');
    reads.invalidate([' M7@Example.com', 'gone@example.com']); // renamed, or erased
    assert.equal(reads.place(removes('m7@example.com', ['1']), 0), 'lookup', 'once a member: may be gone now');
    assert.equal(reads.place(removes('gone@example.com', ['1']), 0), 'lookup', 'once no member: may be one now');
    assert.equal(reads.place(removes('x@example.com', ['1']), 0), 'absent', 'other emails are still answered');
    const later = new MemberReads<string>(rules);
    later.invalidate(['m7@example.com']); // no read exists: one that begins later sees the change
    later.review(queued, START, 0);
    later.due(0).ready[0]!.answered(page(7, 1, -1, 1));
    assert.equal(later.place(removes('m7@example.com', ['1']), 0), 'found');
  });

  it('dropAll (a rebalance) drops every read and hands back the removes parked on them; a late page is ignored', () => {
    const reads = new MemberReads<string>(rules);
    const queued = ['a', 'b', 'c', 'd'].map((n) => removes(`${n}@example.com`, ['1']));
    reads.review(queued, START, 0);
    const [read] = reads.due(0).ready;
    read!.answered(page(350, MEMBER_PAGE, -1, 350));
    assert.ok(reads.review(queued, START, 0), 'four removes, three pages left: it goes on');
    for (const e of queued) assert.equal(reads.place(e, 0), 'wait');
    read!.busy = true; // a page is out
    const { reads: n, parked } = reads.dropAll();
    assert.equal(n, 1);
    assert.deepEqual(
      parked.map((e) => e.email),
      queued.map((e) => e.email),
    );
    assert.ok(!reads.current(read!), 'its page, when it comes back, is ignored');
    assert.deepEqual(read!.answered(page(1, MEMBER_PAGE)), []);
    assert.equal(reads.place(removes('a@example.com', ['1']), 0), 'lookup');
  });

  it('a read that goes on has a deadline: waitMs + pageWaitMs per page left; past it, it fails and its removes come back', () => {
    const reads = new MemberReads<string>({ ...rules, waitMs: 10_000, pageWaitMs: 1_000 });
    const queued = ['a', 'b', 'c'].map((n) => removes(`${n}@example.com`, ['1']));
    reads.review(queued, START, 0);
    const [read] = reads.due(0).ready;
    read!.answered(page(300, MEMBER_PAGE, -1, 300));
    reads.review(queued, START, 500);
    assert.equal(read!.deadline, 500 + 10_000 + 2 * 1_000);
    for (const e of queued) reads.place(e, 500);
    read!.busy = true;
    assert.equal(reads.due(12_499).wakeAt, 12_500, 'the loop wakes for the deadline even while a page is out');
    const { expired } = reads.due(12_500);
    assert.deepEqual(expired, [read]);
    assert.equal(read!.phase, 'failed');
    assert.deepEqual(
      reads.ended(read!, 12_500).map((e) => e.email),
      queued.map((e) => e.email),
    );
    assert.equal(reads.place(queued[0]!, 12_500), 'lookup');
  });
});
