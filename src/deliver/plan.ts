import { serialize, type ContactEntry, type ListChange } from '../buffer/contact-entry.js';
import { CONSENT_REENTRY_OFF, type Route, type Window } from '../ledger/decide.js';
import type { AppliedChange, DeliveryGate } from './outcomes.js';

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
  /** When the person opted out of the list themselves (the consent topic): the consent table keeps it out. */
  optedOut?: number;
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
export function planBatch<R>(
  entries: readonly ContactEntry<R>[],
  route: (email: string, listId: string, change: ListChange<R>) => Route,
): Plan<R> {
  const plan: Plan<R> = { entries: [], resubscribe: new Map(), stale: [], reentryOff: [], dropped: [] };
  for (const entry of entries) {
    let changed = stripped.has(entry);
    const resub: ReentryItem<R>[] = [];
    // entries() is a copy: the lists deleted below are not skipped over.
    for (const [listId, change] of entry.lists.entries()) {
      const r = route(entry.email, listId, change);
      if (r.kind === 'import') continue;
      if (r.kind === 'resubscribe') {
        resub.push({ listId, change, window: r.window, ...(r.optedOut !== undefined ? { optedOut: r.optedOut } : {}) });
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
export interface Cut<R> extends Omit<Plan<R>, 'stale' | 'reentryOff'> {
  /**
   * Refs that settle unsent: stale changes, and the current refs of a change whose winner is of an earlier generation.
   */
  stale: R[];
  /** Entries of removes only, for a contact neither the ledger nor a lookup knows: looked up before sending. */
  lookup: ContactEntry<R>[];
  /** Changes refused before sending (re-entry off): recorded with their code, then dead-lettered. */
  refused: {
    email: string;
    listId: string;
    change: ListChange<R>;
    refused: NonNullable<AppliedChange<R>['refused']>;
  }[];
}

/**
 * The ledger's say on a batch just cut: refs of an earlier generation leave (their events are fetched again),
 * stale changes settle unsent, re-entries the export does not allow are refused, re-entries allowed leave the
 * import body and wait for its confirmation (then contactLists). `plain` says a re-entry found nothing to reverse
 * last time: it goes by plain import.
 */
export function planCut<R>(
  entries: ContactEntry<R>[],
  gate: DeliveryGate<R> | undefined,
  connection: string,
  plain: (email: string, listId: string) => boolean,
): Cut<R> {
  const superseded = pruneDead(entries, gate);
  const plan = planBatch(entries, (email, listId, change) => {
    if (change.refs.length === 0 && !change.reassert) return { kind: 'stale' };
    if (plain(email, listId)) return { kind: 'import' };
    // Sent again over an abandoned import that completed late: never stale (its refs settled the first time).
    if (change.reassert)
      return change.op === 'add' && change.reassert.window
        ? { kind: 'resubscribe', window: change.reassert.window }
        : { kind: 'import' };
    return gate?.route(connection, email, listId, change) ?? { kind: 'import' };
  });
  const message =
    'the contact re-entered the segment after this service unsubscribed them, and the export has reentry: false';
  // A bulk import upserts by email: removes alone would create a contact ActiveCampaign never had (issue 15).
  const lookup: ContactEntry<R>[] = [];
  const send: ContactEntry<R>[] = [];
  for (const entry of plan.entries)
    (!plan.resubscribe.has(entry.email) && needsLookup(entry, gate, connection) ? lookup : send).push(entry);
  return {
    lookup,
    entries: send,
    resubscribe: plan.resubscribe,
    dropped: plan.dropped,
    stale: [...superseded, ...plan.stale.flatMap((c) => c.refs)],
    refused: plan.reentryOff.map(({ entry, listId, change }) => ({
      email: entry.email,
      listId,
      change,
      refused: { code: CONSENT_REENTRY_OFF, message },
    })),
  };
}

/**
 * Whether an entry must be looked up before it is sent: it holds removes only (a bulk import of it would create the
 * contact), and neither the ledger (any list of the connection) nor an earlier lookup knows the contact.
 */
export function needsLookup<R>(entry: ContactEntry<R>, gate: DeliveryGate<R> | undefined, connection: string): boolean {
  if (entry.inAccount || !gate?.knows) return false;
  const changes = entry.lists.values();
  if (changes.length === 0 || changes.some((c) => c.op === 'add')) return false;
  return !changes.some((c) => gate.knows!(connection, entry.email, c.winner));
}

/**
 * Refs fetched before the last rebalance are dropped: their events are uncommitted and fetched again. When the
 * change's winner is such a ref, its current refs are older events superseded by it (it returns with its
 * partition, and a copy fetched again already wins any merge as the newer arrival): they are returned to settle
 * as stale, and nothing of the change is sent.
 */
export function pruneDead<R>(entries: readonly ContactEntry<R>[], gate: DeliveryGate<R> | undefined): R[] {
  if (!gate) return [];
  const superseded: R[] = [];
  for (const entry of entries) {
    for (const change of entry.lists.values()) {
      if (change.refs.every((r) => gate.live(r))) continue;
      const live = change.refs.filter((r) => gate.live(r));
      if (gate.live(change.winner)) change.refs = live;
      else {
        superseded.push(...live);
        change.refs = [];
      }
    }
  }
  return superseded;
}
