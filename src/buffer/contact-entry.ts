import { ListChanges } from './list-changes.js';

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

/**
 * When each profile value was set, once events set different values (a plain object of fixed shape: a Map per
 * contact costs several times more).
 */
export interface Stamps {
  first_name?: Stamp;
  last_name?: Stamp;
  phone?: Stamp;
  /** custom field id → stamp */
  fields?: Map<number, Stamp>;
}
type NameKey = 'first_name' | 'last_name' | 'phone';

const newStamps = (): Stamps => ({ first_name: undefined, last_name: undefined, phone: undefined, fields: undefined });
const isStamp = (s: Stamp | Stamps): s is Stamp => typeof (s as Partial<Stamp>).occurredAt === 'number';

export interface ContactEntry<R> {
  email: string;
  /** '' clears the value in ActiveCampaign (sent as an empty string); undefined: not sent, AC keeps its value. */
  firstName?: string;
  lastName?: string;
  phone?: string;
  /** custom field id → value ('' clears); created by the first field set (most contacts have none). */
  fields?: Map<number, string>;
  /**
   * Per profile value: the newest event that set it wins. A value is held (not undefined) exactly when it has a
   * stamp. One Stamp for all of them while one event set every value held (most contacts get all theirs from one
   * event: no table of 4 slots per contact); a Stamps once different events set different values. Undefined
   * while no value is held.
   */
  stamps?: Stamp | Stamps;
  excludeAutomations: boolean;
  /** ActiveCampaign has this contact (a lookup found it): its removes may go without an add beside them. */
  inAccount?: boolean;
  lists: ListChanges<R>;
  /** When the entry entered the buffer (for the linger trigger). */
  since: number;
  /**
   * The serialized bulk-import entry, made once when its import is cut (serialize()); '' while a change since
   * has not been serialized. `bytes` is then its exact UTF-8 length; before that, an estimate (estimateBytes()),
   * which drives only the bytes trigger and backpressure: a cut always measures exactly.
   */
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
  return { email, excludeAutomations: false, lists: new ListChanges(), since, json: '', bytes: 0 };
}

/** The tags of a change whose export has none: one shared set, replaced before anything is added to it. */
const NO_TAGS: Set<string> = new Set();
const tagsOf = (tags: readonly string[]): Set<string> => (tags.length ? new Set(tags) : NO_TAGS);

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
    if (u.tags.length) {
      if (current.tags === NO_TAGS) current.tags = new Set();
      for (const tag of u.tags) current.tags.add(tag);
    }
    outcome = 'replaced';
  } else {
    entry.lists.set(u.listId, {
      op: u.op,
      occurredAt: u.occurredAt,
      seq: u.seq,
      refs: [u.ref],
      winner: u.ref,
      tags: tagsOf(u.tags),
    });
  }
  applyProfile(entry, u);
  entry.excludeAutomations ||= u.excludeAutomations;
  changed(entry);
  return outcome;
}

/** A value an update says something about: set it (null clears it); undefined or '' says nothing (AC keeps it). */
const says = (value: string | null | undefined): value is string | null => value !== undefined && value !== '';

/** Sets each profile value `u` says something about, unless a newer event (of any list) set it. */
function applyProfile<R>(entry: ContactEntry<R>, u: ContactUpdate<R>): void {
  if (!saysAnything(u)) return;
  if (entry.stamps === undefined) {
    // No value held yet: every value this update says something about is set, under one stamp.
    if (says(u.firstName)) entry.firstName = u.firstName ?? '';
    if (says(u.lastName)) entry.lastName = u.lastName ?? '';
    if (says(u.phone)) entry.phone = u.phone ?? '';
    for (const [id, value] of u.fields) if (says(value)) (entry.fields ??= new Map()).set(id, value ?? '');
    entry.stamps = { occurredAt: u.occurredAt, seq: u.seq };
    return;
  }
  const stamps = perValue(entry);
  // One stamp object for every value this update sets.
  let mine: Stamp | undefined;
  const wins = (key: NameKey, value: string | null | undefined): value is string | null => {
    if (!says(value)) return false;
    const stamp = stamps[key];
    if (stamp && isOlder(u, stamp)) return false;
    stamps[key] = mine ??= { occurredAt: u.occurredAt, seq: u.seq };
    return true;
  };
  if (wins('first_name', u.firstName)) entry.firstName = u.firstName ?? '';
  if (wins('last_name', u.lastName)) entry.lastName = u.lastName ?? '';
  if (wins('phone', u.phone)) entry.phone = u.phone ?? '';
  for (const [id, value] of u.fields) {
    if (!says(value)) continue;
    const fieldStamps = (stamps.fields ??= new Map());
    const stamp = fieldStamps.get(id);
    if (stamp && isOlder(u, stamp)) continue;
    fieldStamps.set(id, (mine ??= { occurredAt: u.occurredAt, seq: u.seq }));
    (entry.fields ??= new Map()).set(id, value ?? '');
  }
  oneStampIfSo(entry);
}

/** Whether the update says something about any profile value (most removes say nothing). */
function saysAnything<R>(u: ContactUpdate<R>): boolean {
  if (says(u.firstName) || says(u.lastName) || says(u.phone)) return true;
  for (const value of u.fields.values()) if (says(value)) return true;
  return false;
}

/** The entry's stamps one per value: a single stamp is spread over the values it stands for. */
function perValue<R>(entry: ContactEntry<R>): Stamps {
  const s = entry.stamps;
  if (s !== undefined && !isStamp(s)) return s;
  const stamps = newStamps();
  if (s !== undefined) {
    if (entry.firstName !== undefined) stamps.first_name = s;
    if (entry.lastName !== undefined) stamps.last_name = s;
    if (entry.phone !== undefined) stamps.phone = s;
    if (entry.fields?.size) stamps.fields = new Map([...entry.fields.keys()].map((id) => [id, s]));
  }
  entry.stamps = stamps;
  return stamps;
}

/** Back to a single stamp when one event set every value held (an update that set them all again, say). */
function oneStampIfSo<R>(entry: ContactEntry<R>): void {
  const s = entry.stamps;
  if (s === undefined || isStamp(s)) return;
  let one: Stamp | undefined;
  const same = (t: Stamp | undefined): boolean => t === undefined || (one ??= t) === t;
  if (!same(s.first_name) || !same(s.last_name) || !same(s.phone)) return;
  if (s.fields) for (const t of s.fields.values()) if (!same(t)) return;
  entry.stamps = one;
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
  if (older.stamps !== undefined) {
    const olderStamps = perValue(older);
    const newerStamps = perValue(newer);
    const newerOf = (o: Stamp | undefined, n: Stamp | undefined) =>
      o !== undefined && (n === undefined || isOlder(n, o));
    const take = (key: NameKey) => {
      const o = olderStamps[key];
      if (!newerOf(o, newerStamps[key])) return false;
      newerStamps[key] = o;
      return true;
    };
    if (take('first_name')) newer.firstName = older.firstName;
    if (take('last_name')) newer.lastName = older.lastName;
    if (take('phone')) newer.phone = older.phone;
    if (older.fields) {
      for (const [id, value] of older.fields) {
        const o = olderStamps.fields?.get(id);
        if (!newerOf(o, newerStamps.fields?.get(id))) continue;
        (newerStamps.fields ??= new Map()).set(id, o!);
        (newer.fields ??= new Map()).set(id, value);
      }
    }
    oneStampIfSo(older);
    oneStampIfSo(newer);
  }
  newer.excludeAutomations ||= older.excludeAutomations;
  if (older.inAccount) newer.inAccount = true;
  newer.since = Math.min(newer.since, older.since);
  changed(newer);
}

/** A change since the last serialize(): the JSON is made again at the cut; meanwhile `bytes` is an estimate. */
function changed<R>(entry: ContactEntry<R>): void {
  entry.json = '';
  entry.bytes = estimateBytes(entry);
}

/**
 * About the serialized length, without serializing: the keys and punctuation serialize() writes, plus each
 * value's length in UTF-16 units (exact for ASCII; text needing escapes or multi-byte UTF-8 is longer).
 */
export function estimateBytes<R>(entry: ContactEntry<R>): number {
  let n = 12 + entry.email.length;
  if (entry.firstName !== undefined) n += 16 + entry.firstName.length;
  if (entry.lastName !== undefined) n += 15 + entry.lastName.length;
  if (entry.phone !== undefined) n += 11 + entry.phone.length;
  if (entry.fields) for (const [id, value] of entry.fields) n += 20 + String(id).length + value.length;
  let subscribe = 0;
  let unsubscribe = 0;
  for (const [listId, change] of entry.lists) {
    const item = 12 + listId.length;
    if (change.op === 'add') {
      subscribe += item;
      for (const tag of change.tags) n += 3 + tag.length;
    } else unsubscribe += item;
  }
  if (subscribe) n += 14 + subscribe;
  if (unsubscribe) n += 16 + unsubscribe;
  if (entry.excludeAutomations) n += 27;
  return n;
}

/** Every source event this entry stands for. */
export function entryRefs<R>(entry: ContactEntry<R>): R[] {
  const refs: R[] = [];
  for (const change of entry.lists.values()) refs.push(...change.refs);
  return refs;
}

/**
 * The bulk-import contact object (CONTRACT.md §4.8), serialized when its import is cut (and after a cut changed it).
 */
export function serialize<R>(entry: ContactEntry<R>): void {
  const subscribe: { listid: number }[] = [];
  const unsubscribe: { listid: number }[] = [];
  for (const [listId, change] of entry.lists)
    (change.op === 'add' ? subscribe : unsubscribe).push({ listid: Number(listId) });
  const tags = new Set<string>();
  for (const change of entry.lists.values()) if (change.op === 'add') for (const tag of change.tags) tags.add(tag);
  const contact: Record<string, unknown> = { email: entry.email };
  if (entry.firstName !== undefined) contact.first_name = entry.firstName;
  if (entry.lastName !== undefined) contact.last_name = entry.lastName;
  if (entry.phone !== undefined) contact.phone = entry.phone;
  if (tags.size) contact.tags = [...tags];
  if (entry.fields?.size) contact.fields = [...entry.fields].map(([id, value]) => ({ id, value }));
  if (subscribe.length) contact.subscribe = subscribe;
  if (unsubscribe.length) contact.unsubscribe = unsubscribe;
  if (entry.excludeAutomations) contact.exclude_automations = true;
  entry.json = JSON.stringify(contact);
  entry.bytes = Buffer.byteLength(entry.json);
}
