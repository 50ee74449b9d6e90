import { serialize, type ContactEntry, type ListChange } from '../buffer/contact-entry.js';
import { unsubscribeIsOurs, type Route, type Window } from '../ledger/decide.js';
import type { Verdict } from './classify.js';
import type { AcApi } from './client.js';

/**
 * The membership ledger's part of delivery, without I/O of its own: which changes of a cut batch go out in the
 * bulk import, which are stale or refused, and the re-subscribe of contacts who re-enter a list after this service
 * unsubscribed them (bulk import never re-subscribes: CONTRACT.md §4.8).
 */
export interface ReentryItem<R> {
  listId: string;
  change: ListChange<R>;
  /**
   * The window of the service's own unsubscribe that this re-entry undoes: only an unsubscribe dated inside it is
   * reversed. None: the add was refused by a bulk import, and any unsubscribe is the contact's own.
   */
  window?: Window;
}

export interface Plan<R> {
  /** What goes in the bulk import. An entry whose only change is a re-subscribe stays (its fields and tags). */
  entries: ContactEntry<R>[];
  /** email → its re-subscribes, done with contactLists after the import. */
  resubscribe: Map<string, ReentryItem<R>[]>;
  /** Changes older than the ledger holds: settle without sending. */
  stale: ListChange<R>[];
  /** Re-entries the export does not allow (reentry: false). */
  reentryOff: { entry: ContactEntry<R>; listId: string; change: ListChange<R> }[];
  /** Entries with nothing left to send: their emails leave flight now. */
  dropped: ContactEntry<R>[];
}

/** Entries whose serialized form leaves out re-subscribe lists: serialized again before they are sent anew. */
const stripped = new WeakSet<object>();

/** Sorts the changes of a batch just cut by what the ledger holds now (each email's newest state is in memory). */
export function planBatch<R>(entries: readonly ContactEntry<R>[], route: (email: string, listId: string, change: ListChange<R>) => Route): Plan<R> {
  const plan: Plan<R> = { entries: [], resubscribe: new Map(), stale: [], reentryOff: [], dropped: [] };
  for (const entry of entries) {
    let changed = stripped.has(entry);
    const resub: ReentryItem<R>[] = [];
    for (const [listId, change] of [...entry.lists]) {
      const r = route(entry.email, listId, change);
      if (r.kind === 'import') continue;
      if (r.kind === 'resubscribe') {
        resub.push({ listId, change, window: r.window });
        continue;
      }
      entry.lists.delete(listId);
      changed = true;
      if (r.kind === 'stale') plan.stale.push(change);
      else plan.reentryOff.push({ entry, listId, change });
    }
    if (entry.lists.size === 0) {
      plan.dropped.push(entry);
      continue;
    }
    if (resub.length) {
      plan.resubscribe.set(entry.email, resub);
      for (const item of resub) entry.lists.delete(item.listId);
      serialize(entry);
      for (const item of resub) entry.lists.set(item.listId, item.change);
      stripped.add(entry);
    } else if (changed) {
      serialize(entry);
      stripped.delete(entry);
    }
    plan.entries.push(entry);
  }
  return plan;
}

/** `import`: no membership, or an unconfirmed one (status 0): never forced, it goes by bulk import. */
export type ReentryResult = 'subscribed' | 'already' | 'opted_out' | 'bounced' | 'missing' | 'import' | 'failed';

export interface ReentryOutcome<R> {
  item: ReentryItem<R>;
  result: ReentryResult;
  /** When the re-subscribe was accepted (or the state was read). */
  at: number;
  /** failed: why. */
  code?: string;
  message?: string;
}

export type StepResult<R> =
  /** The account asked to wait or is failing: the same step runs again later. */
  | { kind: 'wait'; verdict: Exclude<Verdict, { kind: 'ok' }> }
  | { kind: 'progress' }
  | { kind: 'done'; outcomes: ReentryOutcome<R>[] };

/**
 * One contact's re-subscribes, a request per step from the account's budget: the contact id (GET /contacts?email=),
 * its memberships (one read for all its lists), then one contactLists write (status 1, sourceid 4) per list whose
 * current unsubscribe is the service's (dated inside the window of its own unsubscribe). A list already active needs
 * no write; an unsubscribe dated outside the window is an opt-out and stays; a bounced membership stays; no
 * membership or an unconfirmed one goes by bulk import. The same job reads the memberships of a contact that a bulk
 * import listed as failed (`after`), with no window: then nothing is ever written.
 */
export class ReentryJob<R> {
  private contactId: string | undefined;
  private lists: Map<string, { status: number; udate: unknown }> | undefined;
  private readonly todo: ReentryItem<R>[];
  private readonly outcomes: ReentryOutcome<R>[] = [];
  /** Not before this time (a throttled or failing account). */
  notBefore = 0;
  busy = false;

  constructor(
    readonly email: string,
    items: ReentryItem<R>[],
    private readonly now: () => number = Date.now,
    /** After a failed contact: its entry, and the removes of that import to send again. */
    readonly after?: { entry: ContactEntry<R>; resend: [string, ListChange<R>][] },
  ) {
    this.todo = [...items];
  }

  /** Decides what needs no request; true when a request is needed to go on. */
  needsRequest(): boolean {
    if (this.contactId === undefined || this.lists === undefined) return true;
    while (this.todo.length) {
      const item = this.todo[0]!;
      const m = this.lists.get(item.listId);
      if (m === undefined || m.status === 0) this.finish(item, 'import');
      else if (m.status === 1) this.finish(item, 'already');
      else if (m.status === 3) this.finish(item, 'bounced');
      else if (m.status !== 2 || !item.window || !unsubscribeIsOurs(m.udate, item.window)) this.finish(item, 'opted_out');
      else return true;
    }
    return false;
  }

  /** The outcomes, once needsRequest() is false. */
  result(): ReentryOutcome<R>[] {
    return this.outcomes;
  }

  /** One request (call only when needsRequest() is true and the budget allowed it). */
  async step(client: AcApi): Promise<StepResult<R>> {
    if (this.contactId === undefined) {
      const a = await client.findContact(this.email);
      if (a.verdict.kind !== 'ok') return this.refused(a.verdict);
      const found = a.body?.contacts?.find((c) => c.email.toLowerCase() === this.email) ?? a.body?.contacts?.[0];
      if (!found) return this.endAll('missing');
      this.contactId = String(found.id);
      return this.next();
    }
    if (this.lists === undefined) {
      const a = await client.memberships(this.contactId);
      if (a.verdict.kind !== 'ok') return a.status === 404 ? this.endAll('missing') : this.refused(a.verdict);
      this.lists = new Map((a.body?.contactLists ?? []).map((m) => [String(m.list), { status: Number(m.status), udate: m.udate }]));
      return this.next();
    }
    const item = this.todo[0]!;
    const a = await client.setListStatus(this.contactId, item.listId, 1, 4);
    if (a.verdict.kind === 'throttled' || a.verdict.kind === 'account') return { kind: 'wait', verdict: a.verdict };
    this.todo.shift();
    if (a.verdict.kind === 'ok') this.finish(item, 'subscribed');
    else this.finish(item, 'failed', a.verdict.kind === 'reject' ? a.verdict.code : 'REJECTED', a.verdict.kind === 'reject' ? a.verdict.message : 'refused');
    return this.next();
  }

  private refused(v: Exclude<Verdict, { kind: 'ok' }>): StepResult<R> {
    if (v.kind === 'throttled' || v.kind === 'account') return { kind: 'wait', verdict: v };
    const message = v.kind === 'reject' ? v.message : 'refused';
    for (const item of this.todo.splice(0)) this.finish(item, 'failed', v.kind === 'reject' ? v.code : 'REJECTED', message);
    return { kind: 'done', outcomes: this.outcomes };
  }

  private endAll(result: ReentryResult): StepResult<R> {
    for (const item of this.todo.splice(0)) this.finish(item, result);
    return { kind: 'done', outcomes: this.outcomes };
  }

  private next(): StepResult<R> {
    return this.needsRequest() ? { kind: 'progress' } : { kind: 'done', outcomes: this.outcomes };
  }

  private finish(item: ReentryItem<R>, result: ReentryResult, code?: string, message?: string): void {
    if (this.todo[0] === item) this.todo.shift();
    this.outcomes.push({ item, result, at: this.now(), ...(code ? { code } : {}), ...(message ? { message } : {}) });
  }
}
