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
}

export interface ContactEntry<R> {
  email: string;
  firstName?: string;
  lastName?: string;
  phone?: string;
  /** custom field id → value */
  fields: Map<number, string>;
  tags: Set<string>;
  excludeAutomations: boolean;
  lists: Map<string, ListChange<R>>;
  /** When the entry entered the buffer (for the linger trigger). */
  since: number;
  /** Serialized bulk-import entry and its byte length, kept current on every change. */
  json: string;
  bytes: number;
}

/** The profile part of a change, already mapped for one export. */
export interface ContactUpdate<R> {
  email: string;
  firstName?: string | undefined;
  lastName?: string | undefined;
  phone?: string | undefined;
  fields: ReadonlyMap<number, string>;
  tags: readonly string[];
  excludeAutomations: boolean;
  listId: string;
  op: 'add' | 'remove';
  occurredAt: number;
  seq: number;
  ref: R;
}

export function newEntry<R>(email: string, since: number): ContactEntry<R> {
  return { email, fields: new Map(), tags: new Set(), excludeAutomations: false, lists: new Map(), since, json: '', bytes: 0 };
}

export type MergeOutcome = 'new' | 'replaced' | 'superseded-on-arrival' | 'superseded-in-flight';

/** Whether `u` is older than `c`: by occurredAt, then by arrival order (topic order within a partition). */
export function isOlder(u: { occurredAt: number; seq: number }, c: { occurredAt: number; seq: number }): boolean {
  return u.occurredAt < c.occurredAt || (u.occurredAt === c.occurredAt && u.seq < c.seq);
}

/**
 * Applies one change. The newest change per list wins (occurredAt, then arrival order); an older change that
 * arrives late is attached to the newer one and settles with it. Profile fields take the latest non-empty value.
 */
export function applyUpdate<R>(entry: ContactEntry<R>, u: ContactUpdate<R>): MergeOutcome {
  const current = entry.lists.get(u.listId);
  let outcome: MergeOutcome = 'new';
  if (current) {
    if (isOlder(u, current)) {
      current.refs.push(u.ref);
      return 'superseded-on-arrival';
    }
    current.op = u.op;
    current.occurredAt = u.occurredAt;
    current.seq = u.seq;
    current.winner = u.ref;
    current.refs.push(u.ref);
    outcome = 'replaced';
  } else {
    entry.lists.set(u.listId, { op: u.op, occurredAt: u.occurredAt, seq: u.seq, refs: [u.ref], winner: u.ref });
  }
  if (u.firstName) entry.firstName = u.firstName;
  if (u.lastName) entry.lastName = u.lastName;
  if (u.phone) entry.phone = u.phone;
  for (const [id, value] of u.fields) if (value !== '') entry.fields.set(id, value);
  for (const tag of u.tags) entry.tags.add(tag);
  entry.excludeAutomations ||= u.excludeAutomations;
  serialize(entry);
  return outcome;
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
  newer.firstName ??= older.firstName;
  newer.lastName ??= older.lastName;
  newer.phone ??= older.phone;
  for (const [id, value] of older.fields) if (!newer.fields.has(id)) newer.fields.set(id, value);
  for (const tag of older.tags) newer.tags.add(tag);
  newer.excludeAutomations ||= older.excludeAutomations;
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
  const contact: Record<string, unknown> = { email: entry.email };
  if (entry.firstName) contact.first_name = entry.firstName;
  if (entry.lastName) contact.last_name = entry.lastName;
  if (entry.phone) contact.phone = entry.phone;
  if (entry.tags.size) contact.tags = [...entry.tags];
  if (entry.fields.size) contact.fields = [...entry.fields].map(([id, value]) => ({ id, value }));
  if (subscribe.length) contact.subscribe = subscribe;
  if (unsubscribe.length) contact.unsubscribe = unsubscribe;
  if (entry.excludeAutomations) contact.exclude_automations = true;
  entry.json = JSON.stringify(contact);
  entry.bytes = Buffer.byteLength(entry.json);
}

