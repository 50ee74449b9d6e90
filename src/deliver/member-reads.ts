import type { ContactEntry } from '../buffer/contact-entry.js';
import { normaliseEmail } from '../domain/email.js';
import { EmailHashes } from './member-set.js';

/**
 * Reading a list's members once, instead of one lookup per unknown remove (README "Lookup cost"), pure: the
 * read's state and the rules that choose between it and per-email lookups. ActiveCampaign has no filter taking
 * several emails (CONTRACT.md §4.3), but a remove matters only for a member of its list, and
 * `GET /contacts?listid=L&status=-1` pages through them, 100 a page (§3).
 *
 * Freshness: a read answers "not a member" only for a remove that occurred at least `skewMs` before the read
 * began, so every page it reads was read after the event, as a per-email lookup would be. A member that joined
 * after the event (a form) is newer than it; the service's own adds are known to the ledger before any newer
 * change of the email is cut (the buffer holds an email until its import settles), so they never need a read.
 */
export const MEMBER_PAGE = 100;

export interface ReadRules {
  /** Queued lookups with a change on one list that start a read of its members; 0: lookups only. */
  startAt: number;
  /** A list with more members is never read (memory: member-set.ts, at most 32 bytes a member). */
  maxMembers: number;
  /** A read answers only for removes that occurred at least this long before it began (clock skew). */
  skewMs: number;
  /** A finished or failed read is forgotten this long after it last answered (a failed one blocks a new read meanwhile). */
  retainMs: number;
  /**
   * A paused read goes on only once it answers this many queued lookups per page it has left. Removes wait for a
   * read to end (and the later changes of their emails with them), while lookups answer one by one from the
   * first: a read that saves little costs latency for nothing (the 100,000-event delivery test).
   */
  saving: number;
}

export const defaultReadRules: ReadRules = { startAt: 100, maxMembers: 2_000_000, skewMs: 5_000, retainMs: 600_000, saving: 4 };

/** probe → paused (cheaper by lookups so far) → reading → done; failed at any step. */
export type ReadPhase = 'probe' | 'paused' | 'reading' | 'done' | 'failed';

export interface MembersPage {
  contacts: readonly { id: string; email: string }[];
  /** meta.total: how many match (whether it counts after id_greater is [UNCONFIRMED]: only an estimate here). */
  total?: number;
}

/** The probe asks for the highest ids first; then pages go up from the lowest ids. */
export type MembersRequest = { listId: string; limit: number; order: 'desc' } | { listId: string; limit: number; order: 'asc'; afterId: number };

/** One read of one list's members. */
export class ListRead {
  phase: ReadPhase = 'probe';
  busy = false;
  /** Scheduler time before which no request of it goes (a 429, a failing account). */
  notBefore = 0;
  /** Pages left after the probe, as its meta.total estimates: the read goes on once `saving` times as many removes wait on it. */
  pagesLeft = Infinity;
  requests = 0;
  failure: string | undefined;
  /**
   * The lowest id on the probe's page (the highest ids): the ascending pages stop below it. A member with a
   * higher id joined after the probe, after every remove this read answers for.
   */
  private bound = Infinity;
  private cursor = 0;
  private members = new EmailHashes();

  constructor(
    readonly listId: string,
    /** Epoch ms when the read began. */
    readonly startedAt: number,
    private readonly rules: ReadRules,
    /** Scheduler time it last answered for a remove (or began). */
    public lastUsed: number,
  ) {}

  get memberCount(): number {
    return this.members.size;
  }

  get memoryBytes(): number {
    return this.members.bytes;
  }

  /** Whether a remove that occurred then is answered by this read once it is done. */
  covers(occurredAt: number): boolean {
    return occurredAt <= this.startedAt - this.rules.skewMs;
  }

  /** A member seen so far (any status: unconfirmed, active, unsubscribed, bounced): the contact exists. */
  has(email: string): boolean {
    return this.members.has(email);
  }

  next(): MembersRequest {
    return this.phase === 'probe' ? { listId: this.listId, limit: MEMBER_PAGE, order: 'desc' } : { listId: this.listId, limit: MEMBER_PAGE, order: 'asc', afterId: this.cursor };
  }

  /** An answered page: its members are kept (as hashes). Returns their emails, normalised, to find waiting removes. */
  answered(page: MembersPage): string[] {
    this.requests++;
    const ids = page.contacts.map((c) => Number(c.id));
    const desc = this.phase === 'probe';
    // The order is what makes id paging complete; a page out of order (or ids we cannot read) ends the read.
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isSafeInteger(id) || id <= 0 || (i > 0 && (desc ? id >= ids[i - 1]! : id <= ids[i - 1]!)) || (!desc && id <= this.cursor)) {
        this.fail('a page of members was not in id order');
        return [];
      }
    }
    const emails: string[] = [];
    let reachedBound = false;
    for (let i = 0; i < ids.length; i++) {
      if (!desc && ids[i]! >= this.bound) {
        reachedBound = true;
        break;
      }
      const email = normaliseEmail(page.contacts[i]!.email);
      this.members.add(email);
      emails.push(email);
    }
    if (desc) {
      this.bound = ids.length ? ids[ids.length - 1]! : Infinity;
      if (ids.length < MEMBER_PAGE) this.phase = 'done';
      else if (page.total === undefined || !Number.isFinite(page.total)) this.fail('the probe gave no member count');
      else if (page.total > this.rules.maxMembers) this.fail(`the list has ${page.total} members, over the ${this.rules.maxMembers} a read may hold`);
      else {
        this.pagesLeft = Math.ceil(Math.max(0, page.total - ids.length) / MEMBER_PAGE);
        this.phase = 'paused';
      }
    } else {
      this.pagesLeft = Math.max(0, this.pagesLeft - 1);
      if (ids.length) this.cursor = ids[ids.length - 1]!;
      if (reachedBound || ids.length < MEMBER_PAGE) this.phase = 'done';
      else if (this.members.size > this.rules.maxMembers) this.fail(`the list has over ${this.rules.maxMembers} members`);
    }
    return emails;
  }

  /** Ends the read without an answer: its removes go back to per-email lookups. */
  fail(reason: string): void {
    this.phase = 'failed';
    this.failure = reason;
    this.members = new EmailHashes();
  }
}

export type ReadVerdict = 'found' | 'absent' | 'wait' | 'lookup';

/**
 * What the reads say of an entry of removes only. `found`: a read saw the email on one of its lists, so the
 * contact exists and the removes go by import. `absent`: every list's read is done, covers its remove and did
 * not see the email: nothing to unsubscribe. `wait`: every remove is covered by a read done or under way.
 * `lookup`: otherwise (the per-email lookup, as without reads).
 */
export function readVerdict<R>(entry: ContactEntry<R>, readOf: (listId: string) => ListRead | undefined): ReadVerdict {
  let waiting = false;
  let covered = true;
  for (const [listId, change] of entry.lists) {
    const read = readOf(listId);
    if (read?.has(entry.email)) return 'found';
    if (!read || !read.covers(change.occurredAt) || (read.phase !== 'done' && read.phase !== 'reading')) covered = false;
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
export function review<R>(queued: Iterable<ContactEntry<R>>, reads: ReadonlyMap<string, ListRead>, epoch: number, rules: ReadRules): Review {
  const demand = new Map<string, number>();
  const coveredBy = new Map<ListRead, number>();
  for (const entry of queued) {
    for (const [listId, change] of entry.lists) {
      const read = reads.get(listId);
      if (read?.phase === 'paused') {
        if (read.covers(change.occurredAt)) coveredBy.set(read, (coveredBy.get(read) ?? 0) + 1);
      } else if ((!read || read.phase === 'done') && change.occurredAt <= epoch - rules.skewMs && !read?.covers(change.occurredAt)) {
        demand.set(listId, (demand.get(listId) ?? 0) + 1);
      }
    }
  }
  return {
    start: rules.startAt > 0 ? [...demand].filter(([, n]) => n >= rules.startAt).map(([listId]) => listId) : [],
    resume: [...coveredBy].filter(([read, n]) => n >= read.pagesLeft * rules.saving).map(([read]) => read),
  };
}
