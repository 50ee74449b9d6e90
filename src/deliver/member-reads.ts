import type { ContactEntry } from '../buffer/contact-entry.js';
import { normaliseEmail } from '../domain/email.js';
import { ListRead } from './list-read.js';

/**
 * Reading a list's members once, instead of one lookup per unknown remove (README "Lookup cost"), pure: the one
 * owner of the reads of an account, the removes waiting on them, and the rules that choose between a read and
 * per-email lookups (a read's own paging is list-read.ts). ActiveCampaign has no filter taking several emails
 * (CONTRACT.md §4.3), but a remove matters only for a member of its list, and `GET /contacts?listid=L&status=-1`
 * pages through them, 100 a page (§3).
 *
 * A read answers for a remove (member or not) only if it began at least `skewMs` after the remove occurred, so
 * every page it reads was read after the event, as a per-email lookup would be; and only while nothing it read
 * may have changed since it began. What the service changes itself drops that knowledge: an erasure or an email
 * change makes every read that exists stop answering for the emails concerned (`invalidate`), and a rebalance
 * drops every read (`dropAll`: another member's import may have landed after a read passed its contact). A
 * member that joined after the event (a form) is newer than it; the service's own adds are known to the ledger
 * before any newer change of the email is cut (the buffer holds an email until its import settles), so they
 * never need a read. A remove waits on a read for a bounded time only (`deadline`): then it is looked up.
 */
export interface ReadRules {
  /** Queued lookups with a change on one list that start a read of its members; 0: lookups only. */
  startAt: number;
  /** A list with more members is never read (memory: member-set.ts, at most 32 bytes a member). */
  maxMembers: number;
  /** A read answers only for removes that occurred at least this long before it began (clock skew). */
  skewMs: number;
  /**
   * A finished or failed read is forgotten this long after it last answered (a failed one blocks a new read meanwhile).
   */
  retainMs: number;
  /**
   * A paused read goes on only once it answers this many queued lookups per page it has left. Removes wait for a
   * read to end (and the later changes of their emails with them), while lookups answer one by one from the
   * first: a read that saves little costs latency for nothing (the 100,000-event delivery test).
   */
  saving: number;
  /**
   * A read that goes on must be done within waitMs + pageWaitMs per page it has left,
   * or it fails (its removes are looked up).
   */
  waitMs: number;
  pageWaitMs: number;
}

export const defaultReadRules: ReadRules = {
  startAt: 100,
  maxMembers: 2_000_000,
  skewMs: 5_000,
  retainMs: 600_000,
  saving: 4,
  waitMs: 300_000,
  pageWaitMs: 1_000,
};

export type ReadVerdict = 'found' | 'absent' | 'wait' | 'lookup';

/**
 * What the reads say of an entry of removes only. A list's read answers for the entry only if it covers the
 * remove (began after it) and the email has not changed since it began. `found`: such a read saw the email, so
 * the contact exists and the removes go by import. `absent`: every list's read answers, is done and did not see
 * the email: nothing to unsubscribe. `wait`: every list's read answers, and one is under way. `lookup`: otherwise.
 */
export function readVerdict<R>(entry: ContactEntry<R>, readOf: (listId: string) => ListRead | undefined): ReadVerdict {
  let waiting = false;
  let covered = true;
  for (const [listId, change] of entry.lists) {
    const read = readOf(listId);
    const answers = !!read && read.covers(change.occurredAt) && read.answersFor(entry.email);
    if (answers && read.has(entry.email)) return 'found';
    if (!answers || (read.phase !== 'done' && read.phase !== 'reading')) covered = false;
    else if (read.phase === 'reading') waiting = true;
  }
  return !covered ? 'lookup' : waiting ? 'wait' : 'absent';
}

/** What a review of the lookup queue decides: lists whose read begins (a probe), paused reads that go on. */
export interface Review {
  start: string[];
  resume: ListRead[];
}

/**
 * The rule that picks the path. A list's read begins once `startAt` queued lookups have a remove on it that a
 * read beginning now would answer (one that occurred `skewMs` ago or more) and no read of it is under way or
 * failed lately. Below that, every remove is looked up as before, so a steady trickle costs what it did. The probe
 * (one request) tells how many pages are left; the read then goes on only once `saving` (4) times as many
 * queued lookups would be answered by it, and then runs to its end: it costs at most a quarter of the lookups it
 * replaces, plus its probe.
 */
export function review<R>(
  queued: Iterable<ContactEntry<R>>,
  reads: ReadonlyMap<string, ListRead>,
  epoch: number,
  rules: ReadRules,
): Review {
  const demand = new Map<string, number>();
  const coveredBy = new Map<ListRead, number>();
  for (const entry of queued) {
    for (const [listId, change] of entry.lists) {
      const read = reads.get(listId);
      if (read?.phase === 'paused') {
        if (read.covers(change.occurredAt)) coveredBy.set(read, (coveredBy.get(read) ?? 0) + 1);
      } else if (
        (!read || read.phase === 'done') &&
        change.occurredAt <= epoch - rules.skewMs &&
        !read?.covers(change.occurredAt)
      ) {
        demand.set(listId, (demand.get(listId) ?? 0) + 1);
      }
    }
  }
  return {
    start: rules.startAt > 0 ? [...demand].filter(([, n]) => n >= rules.startAt).map(([listId]) => listId) : [],
    resume: [...coveredBy].filter(([read, n]) => n >= read.pagesLeft * rules.saving).map(([read]) => read),
  };
}

/** The reads of one account's lists and the entries parked on them (lookup-queue.ts runs their requests). */
export class MemberReads<R> {
  private readonly reads = new Map<string, ListRead>();
  /** Entries waiting for a read under way, by email. */
  private readonly parked = new Map<string, ContactEntry<R>>();

  constructor(private readonly rules: ReadRules) {}

  /** Entries parked, and pages in the air. */
  get waiting(): number {
    let n = this.parked.size;
    for (const r of this.reads.values()) if (r.busy) n++;
    return n;
  }

  /** What the reads say of an entry: `wait` parks it here, until `seen` or `ended` hands it back. */
  place(entry: ContactEntry<R>, now: number): ReadVerdict {
    const verdict = this.reads.size ? readVerdict(entry, (listId) => this.reads.get(listId)) : 'lookup';
    if (verdict === 'wait') this.parked.set(entry.email, entry);
    else if (verdict !== 'lookup') {
      for (const listId of entry.lists.keys()) {
        const read = this.reads.get(listId);
        if (read) read.lastUsed = now;
      }
    }
    return verdict;
  }

  /** Whether `read` still counts: not dropped, nor failed while a page of it was out (that page is then ignored). */
  current(read: ListRead): boolean {
    return this.reads.get(read.listId) === read && read.phase !== 'failed';
  }

  /** Reads whose next page may go now; those that passed their deadline (failed here); when to look again. */
  due(now: number): { ready: ListRead[]; expired: ListRead[]; wakeAt: number } {
    const ready: ListRead[] = [];
    const expired: ListRead[] = [];
    let wakeAt = Infinity;
    for (const read of this.reads.values()) {
      if (read.phase === 'reading' && now >= read.deadline) {
        read.fail(`the read was not done by its deadline (${read.pagesLeft} pages left)`);
        expired.push(read);
        continue;
      }
      if (read.phase === 'reading') wakeAt = Math.min(wakeAt, read.deadline);
      if (read.busy || (read.phase !== 'probe' && read.phase !== 'reading')) continue;
      if (read.notBefore > now) wakeAt = Math.min(wakeAt, read.notBefore);
      else ready.push(read);
    }
    return { ready, expired, wakeAt };
  }

  /** The fewest queued lookups that could resume a paused read (its pages left × saving). */
  minResume(): number {
    let min = Infinity;
    for (const r of this.reads.values()) if (r.phase === 'paused') min = Math.min(min, r.pagesLeft * this.rules.saving);
    return min;
  }

  /** review() on the queued lookups: probes begin, paused reads go on (with their deadline). Whether any went on. */
  review(queued: Iterable<ContactEntry<R>>, epoch: number, now: number): boolean {
    const { start, resume } = review(queued, this.reads, epoch, this.rules);
    for (const listId of start) this.reads.set(listId, new ListRead(listId, epoch, this.rules, now));
    for (const read of resume) {
      read.phase = 'reading';
      read.deadline = now + this.rules.waitMs + read.pagesLeft * this.rules.pageWaitMs;
    }
    return resume.length > 0;
  }

  /** A page of `read` held these members (normalised emails): the entries parked on them, to place again. */
  seen(read: ListRead, emails: readonly string[]): ContactEntry<R>[] {
    const back: ContactEntry<R>[] = [];
    for (const email of emails) {
      const entry = this.parked.get(email);
      if (!entry?.lists.has(read.listId)) continue;
      this.parked.delete(email);
      back.push(entry);
    }
    return back;
  }

  /** `read` ended (done or failed): the entries parked on it, to place again. */
  ended(read: ListRead, now: number): ContactEntry<R>[] {
    read.lastUsed = now;
    const back = [...this.parked.values()].filter((e) => e.lists.has(read.listId));
    for (const entry of back) this.parked.delete(entry.email);
    return back;
  }

  /** Reads finished, failed or paused that nothing used for `retainMs` are dropped (their member hashes with them). */
  forget(now: number): void {
    for (const [listId, read] of this.reads) {
      if (
        (read.phase === 'done' || read.phase === 'failed' || read.phase === 'paused') &&
        !read.busy &&
        now - read.lastUsed > this.rules.retainMs
      )
        this.reads.delete(listId);
    }
  }

  /**
   * These emails' contacts changed in ActiveCampaign (erased, deleted, renamed):
   * no read that exists now answers for them.
   */
  invalidate(emails: Iterable<string>): void {
    if (this.reads.size === 0) return;
    for (const email of emails) for (const read of this.reads.values()) read.invalidate(normaliseEmail(email));
  }

  /**
   * Anything may have changed (a rebalance): every read is dropped. Returns how many, and the entries parked on them.
   */
  dropAll(): { reads: number; parked: ContactEntry<R>[] } {
    const reads = this.reads.size;
    for (const read of this.reads.values()) read.fail('dropped');
    this.reads.clear();
    const parked = [...this.parked.values()];
    this.parked.clear();
    return { reads, parked };
  }
}
