/**
 * One contact's pending changes on one ActiveCampaign account: the latest op per list, merged profile fields,
 * and the source events that the entry settles when it is confirmed. Pure data, no I/O.
 */
export interface ListChange<R> {
  op: 'add' | 'remove';
  occurredAt: number;
  /** Arrival order, to break ties in occurredAt by topic order. */
  seq: number;
  /** The event that set this op and every event it superseded: all settle together. */
  refs: R[];
  /** The event that set this op (the newest; one of `refs`). */
  winner: R;
  /** Its export's tags: sent only while the op is an add, and only for this list (never another list's). */
  tags: Set<string>;
  /**
   * A change sent again, with no refs, because an abandoned import completed late over it (deliver/late-imports.ts):
   * never stale; an add goes by re-subscribe within `window` (the late unsubscribe is the service's own).
   */
  reassert?: { window?: { from: number; to: number } };
}

/** When a profile value was set: the event's occurredAt, then arrival order. */
export interface Stamp {
  occurredAt: number;
  seq: number;
}

export interface ContactEntry<R> {
  email: string;
  /** '' clears the value in ActiveCampaign (sent as an empty string); undefined: not sent, AC keeps its value. */
  firstName?: string;
  lastName?: string;
  phone?: string;
  /** custom field id → value ('' clears) */
  fields: Map<number, string>;
  /** Per profile value ('first_name', 'last_name', 'phone', 'f<id>'): the newest event that set it wins. */
  stamps: Map<string, Stamp>;
  excludeAutomations: boolean;
  /** ActiveCampaign has this contact (a lookup found it): its removes may go without an add beside them. */
  inAccount?: boolean;
  lists: Map<string, ListChange<R>>;
  /** When the entry entered the buffer (for the linger trigger). */
  since: number;
  /** Serialized bulk-import entry and its byte length, kept current on every change. */
  json: string;
  bytes: number;
}

/**
 * The profile part of a change, already mapped for one export. A value: set it; null: the event clears it;
 * undefined or '': the event says nothing about it (AC keeps its value).
 */
export interface ContactUpdate<R> {
  email: string;
  firstName?: string | null | undefined;
  lastName?: string | null | undefined;
  phone?: string | null | undefined;
  fields: ReadonlyMap<number, string | null>;
  tags: readonly string[];
  excludeAutomations: boolean;
  listId: string;
  op: 'add' | 'remove';
  occurredAt: number;
  seq: number;
  ref: R;
}

export function newEntry<R>(email: string, since: number): ContactEntry<R> {
  return { email, fields: new Map(), stamps: new Map(), excludeAutomations: false, lists: new Map(), since, json: '', bytes: 0 };
}

export type MergeOutcome = 'new' | 'replaced' | 'superseded-on-arrival' | 'superseded-in-flight';

/** Whether `u` is older than `c`: by occurredAt, then by arrival order (topic order within a partition). */
export function isOlder(u: { occurredAt: number; seq: number }, c: { occurredAt: number; seq: number }): boolean {
  return u.occurredAt < c.occurredAt || (u.occurredAt === c.occurredAt && u.seq < c.seq);
}

/**
 * Applies one change. The newest change per list wins (occurredAt, then arrival order); an older change that
 * arrives late is attached to the newer one and settles with it. Each profile value comes from the newest event
 * (by occurredAt, then arrival) that says something about it, also when that event arrives late or is for another
 * list: a late, older event never overwrites it. A list's tags are its own export's.
 */
export function applyUpdate<R>(entry: ContactEntry<R>, u: ContactUpdate<R>): MergeOutcome {
  const current = entry.lists.get(u.listId);
  let outcome: MergeOutcome = 'new';
  if (current) {
    if (isOlder(u, current)) {
      // The newer change of this list covers this event entirely, its profile too.
      current.refs.push(u.ref);
      return 'superseded-on-arrival';
    }
    current.op = u.op;
    current.occurredAt = u.occurredAt;
    current.seq = u.seq;
    current.winner = u.ref;
    current.refs.push(u.ref);
    for (const tag of u.tags) current.tags.add(tag);
    outcome = 'replaced';
  } else {
    entry.lists.set(u.listId, { op: u.op, occurredAt: u.occurredAt, seq: u.seq, refs: [u.ref], winner: u.ref, tags: new Set(u.tags) });
  }
  applyProfile(entry, u);
  entry.excludeAutomations ||= u.excludeAutomations;
  serialize(entry);
  return outcome;
}

/** Sets each profile value `u` says something about, unless a newer event (of any list) set it. */
function applyProfile<R>(entry: ContactEntry<R>, u: ContactUpdate<R>): void {
  const set = (key: string, value: string | null | undefined, write: (v: string) => void) => {
    if (value === undefined || value === '') return; // says nothing: AC keeps its value
    const stamp = entry.stamps.get(key);
    if (stamp && isOlder(u, stamp)) return;
    entry.stamps.set(key, { occurredAt: u.occurredAt, seq: u.seq });
    write(value ?? '');
  };
  set('first_name', u.firstName, (v) => (entry.firstName = v));
  set('last_name', u.lastName, (v) => (entry.lastName = v));
  set('phone', u.phone, (v) => (entry.phone = v));
  for (const [id, value] of u.fields) set(`f${id}`, value, (v) => entry.fields.set(id, v));
}

/** Merges an older entry (e.g. one coming back from a failed request) under a newer one. */
export function mergeUnder<R>(newer: ContactEntry<R>, older: ContactEntry<R>): void {
  for (const [listId, change] of older.lists) {
    const mine = newer.lists.get(listId);
    if (!mine) newer.lists.set(listId, change);
    else if (mine.occurredAt > change.occurredAt || (mine.occurredAt === change.occurredAt && mine.seq >= change.seq)) {
      mine.refs.push(...change.refs);
    } else {
      change.refs.push(...mine.refs);
      newer.lists.set(listId, change);
    }
  }
  // Each profile value from whichever entry set it from the newer event.
  const take = (key: string) => {
    const o = older.stamps.get(key);
    const n = newer.stamps.get(key);
    if (!o || (n && !isOlder(n, o))) return false;
    newer.stamps.set(key, o);
    return true;
  };
  if (take('first_name')) newer.firstName = older.firstName;
  if (take('last_name')) newer.lastName = older.lastName;
  if (take('phone')) newer.phone = older.phone;
  for (const [id, value] of older.fields) if (take(`f${id}`)) newer.fields.set(id, value);
  newer.excludeAutomations ||= older.excludeAutomations;
  if (older.inAccount) newer.inAccount = true;
  newer.since = Math.min(newer.since, older.since);
  serialize(newer);
}

/** Every source event this entry stands for. */
export function entryRefs<R>(entry: ContactEntry<R>): R[] {
  const refs: R[] = [];
  for (const change of entry.lists.values()) refs.push(...change.refs);
  return refs;
}

/** The bulk-import contact object (CONTRACT.md §4.8), serialized once per change. */
export function serialize<R>(entry: ContactEntry<R>): void {
  const subscribe: { listid: number }[] = [];
  const unsubscribe: { listid: number }[] = [];
  for (const [listId, change] of entry.lists) (change.op === 'add' ? subscribe : unsubscribe).push({ listid: Number(listId) });
  const tags = new Set<string>();
  for (const change of entry.lists.values()) if (change.op === 'add') for (const tag of change.tags) tags.add(tag);
  const contact: Record<string, unknown> = { email: entry.email };
  if (entry.firstName !== undefined) contact.first_name = entry.firstName;
  if (entry.lastName !== undefined) contact.last_name = entry.lastName;
  if (entry.phone !== undefined) contact.phone = entry.phone;
  if (tags.size) contact.tags = [...tags];
  if (entry.fields.size) contact.fields = [...entry.fields].map(([id, value]) => ({ id, value }));
  if (subscribe.length) contact.subscribe = subscribe;
  if (unsubscribe.length) contact.unsubscribe = unsubscribe;
  if (entry.excludeAutomations) contact.exclude_automations = true;
  entry.json = JSON.stringify(contact);
  entry.bytes = Buffer.byteLength(entry.json);
}

