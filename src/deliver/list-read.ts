import { normaliseEmail } from '../domain/email.js';
import { EmailHashes } from './member-set.js';

/**
 * One read of one list's members by id pages (README "Lookup cost"), pure: its paging, what it has seen, and the
 * emails it no longer answers for. member-reads.ts owns the reads and decides when one begins, goes on and ends.
 */
export const MEMBER_PAGE = 100;

/** probe → paused (cheaper by lookups so far) → reading → done; failed at any step. */
export type ReadPhase = 'probe' | 'paused' | 'reading' | 'done' | 'failed';

export interface MembersPage {
  contacts: readonly { id: string; email: string }[];
  /** meta.total: how many match (whether it counts after id_greater is [UNCONFIRMED]: only an estimate here). */
  total?: number;
}

/** The probe asks for the highest ids first; then pages go up from the lowest ids. */
export type MembersRequest =
  | { listId: string; limit: number; order: 'desc' }
  | { listId: string; limit: number; order: 'asc'; afterId: number };

/** A members page as ActiveCampaign answered it, or undefined when its shape is not one (the read then fails). */
export function membersPage(body: unknown): MembersPage | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { contacts, meta } = body as { contacts?: unknown; meta?: { total?: unknown } | null };
  if (!Array.isArray(contacts)) return undefined;
  const page: { id: string; email: string }[] = [];
  for (const c of contacts as unknown[]) {
    const { id, email } = (typeof c === 'object' && c !== null ? c : {}) as { id?: unknown; email?: unknown };
    if ((typeof id !== 'string' && typeof id !== 'number') || typeof email !== 'string') return undefined;
    page.push({ id: String(id), email });
  }
  const total = Number(typeof meta === 'object' && meta !== null ? (meta.total ?? Number.NaN) : Number.NaN);
  return Number.isFinite(total) ? { contacts: page, total } : { contacts: page };
}

/** One read of one list's members. */
export class ListRead {
  phase: ReadPhase = 'probe';
  busy = false;
  /** Scheduler time before which no request of it goes (a 429, a failing account). */
  notBefore = 0;
  /** Scheduler time by which a read that went on must be done; past it the read fails (member-reads.ts). */
  deadline = Infinity;
  /**
   * Pages left after the probe, as its meta.total estimates:
   * the read goes on once `saving` times as many removes wait on it.
   */
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
  /**
   * Emails whose contact changed in ActiveCampaign since the read began (renamed, deleted): it says nothing of them.
   */
  private readonly changed = new EmailHashes();

  constructor(
    readonly listId: string,
    /** Epoch ms when the read began. */
    readonly startedAt: number,
    /** member-reads.ts ReadRules: the clock skew its answers allow for, the most members it may hold. */
    private readonly rules: { skewMs: number; maxMembers: number },
    /** Scheduler time it last answered for a remove (or began). */
    public lastUsed: number,
  ) {}

  get memberCount(): number {
    return this.members.size;
  }

  get memoryBytes(): number {
    return this.members.bytes + this.changed.bytes;
  }

  /** Whether a remove that occurred then is answered by this read once it is done. */
  covers(occurredAt: number): boolean {
    return occurredAt <= this.startedAt - this.rules.skewMs;
  }

  /** A member seen so far (any status: unconfirmed, active, unsubscribed, bounced): the contact exists. */
  has(email: string): boolean {
    return this.members.has(email);
  }

  /** Whether the read may answer for this email at all: its contact has not changed since the read began. */
  answersFor(email: string): boolean {
    return this.changed.size === 0 || !this.changed.has(email);
  }

  /** The contact of `email` (normalised) changed in ActiveCampaign: this read no longer answers for it. */
  invalidate(email: string): void {
    this.changed.add(email);
  }

  next(): MembersRequest {
    return this.phase === 'probe'
      ? { listId: this.listId, limit: MEMBER_PAGE, order: 'desc' }
      : { listId: this.listId, limit: MEMBER_PAGE, order: 'asc', afterId: this.cursor };
  }

  /**
   * An answered page: its members are kept (as hashes). Returns their emails, normalised, to find waiting removes.
   * A page that comes back after the read failed (its deadline, a rebalance) is ignored.
   */
  answered(page: MembersPage): string[] {
    if (this.phase === 'failed') return [];
    this.requests++;
    const ids = page.contacts.map((c) => Number(c.id));
    const desc = this.phase === 'probe';
    // The order is what makes id paging complete; a page out of order (or ids we cannot read) ends the read.
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (
        !Number.isSafeInteger(id) ||
        id <= 0 ||
        (i > 0 && (desc ? id >= ids[i - 1]! : id <= ids[i - 1]!)) ||
        (!desc && id <= this.cursor)
      ) {
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
      else if (page.total > this.rules.maxMembers)
        this.fail(`the list has ${page.total} members, over the ${this.rules.maxMembers} a read may hold`);
      else {
        this.pagesLeft = Math.ceil(Math.max(0, page.total - ids.length) / MEMBER_PAGE);
        this.phase = 'paused';
      }
    } else {
      this.pagesLeft = Math.max(0, this.pagesLeft - 1);
      if (ids.length) this.cursor = ids[ids.length - 1]!;
      if (reachedBound || ids.length < MEMBER_PAGE) this.phase = 'done';
      else if (this.members.size > this.rules.maxMembers)
        this.fail(`the list has over ${this.rules.maxMembers} members`);
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
