import {
  applyUpdate,
  entryRefs,
  isOlder,
  mergeUnder,
  newEntry,
  serialize,
  type ContactEntry,
  type ContactUpdate,
  type MergeOutcome,
} from './contact-entry.js';

/** Why a batch was cut; recorded per flush (metric `flushes_total{trigger}`). */
export type FlushTrigger = 'size' | 'bytes' | 'age' | 'shutdown' | 'rebalance' | 'retry';

export interface BufferLimits {
  maxContacts: number;
  /** The serialized body must stay at or under this many bytes (ActiveCampaign: under 400,000). */
  maxBytes: number;
  lingerMs: number;
}

export interface Batch<R> {
  entries: ContactEntry<R>[];
  /** The exact request body; its byte length is `bytes`. */
  body: string;
  bytes: number;
  trigger: FlushTrigger;
}

const BODY_OPEN = '{"contacts":[';
const BODY_CLOSE = ']}';
/** exclude_automations goes inside each contact and at the top level too (CONTRACT.md §4.8: placement unconfirmed). */
const BODY_CLOSE_EXCLUDING = '],"exclude_automations":true}';
/** Room for the longer ending is always kept, so a batch never outgrows the limit when one contact excludes. */
const BODY_OVERHEAD = BODY_OPEN.length + BODY_CLOSE_EXCLUDING.length;

/**
 * The buffer of one ActiveCampaign account, keyed by normalised email. Pure: time comes in as arguments.
 *
 * An email whose import is sent but not confirmed is "in flight": newer changes for it wait in `held` until the
 * import settles, because ActiveCampaign does not promise that imports apply in order.
 */
export class ContactBuffer<R> {
  private ready = new Map<string, ContactEntry<R>>();
  private held = new Map<string, ContactEntry<R>>();
  /** Emails in an unconfirmed import, with the entry that was sent. */
  private inflight = new Map<string, ContactEntry<R>>();
  private readyBytes = 0;
  private heldBytes = 0;
  /** Emails an erasure is under way for, with how many: none of their changes is cut until it ends. */
  private blocked = new Map<string, number>();

  constructor(private readonly limits: BufferLimits) {}

  get readyContacts(): number {
    return this.ready.size;
  }
  get contacts(): number {
    return this.ready.size + this.held.size;
  }
  get bytes(): number {
    return this.readyBytes + this.heldBytes;
  }
  /** Whether anything of this email is buffered or in flight. */
  holds(email: string): boolean {
    return this.ready.has(email) || this.held.has(email) || this.inflight.has(email);
  }

  /** Whether an import (or a lookup, a bisect half, a re-entry) holding this email has not settled yet. */
  inFlight(email: string): boolean {
    return this.inflight.has(email);
  }

  /**
   * An erasure of this email begins: its changes stay buffered, never cut, until unblock(). A change occurring
   * after the erasure must not reach ActiveCampaign before the contact is deleted, or the delete would take it.
   */
  block(email: string): void {
    this.blocked.set(email, (this.blocked.get(email) ?? 0) + 1);
  }

  unblock(email: string): void {
    const n = (this.blocked.get(email) ?? 0) - 1;
    if (n > 0) this.blocked.set(email, n);
    else this.blocked.delete(email);
  }

  /**
   * These contacts changed in ActiveCampaign (an erasure deleted one, an email change renamed one; undefined: any
   * may have): what a lookup found of them no longer holds, so a remove of theirs is looked up again before it goes.
   */
  forgetFound(emails?: readonly string[]): void {
    for (const map of [this.ready, this.held, this.inflight]) {
      if (!emails) for (const entry of map.values()) entry.inAccount = false;
      else
        for (const email of emails) {
          const entry = map.get(email);
          if (entry) entry.inAccount = false;
        }
    }
  }

  get inflightContacts(): number {
    return this.inflight.size;
  }

  /**
   * Contacts waiting per list and their serialized bytes (a contact on two lists counts in both). O(n): for scrapes.
   */
  perList(): Map<string, { contacts: number; bytes: number }> {
    const out = new Map<string, { contacts: number; bytes: number }>();
    for (const entries of [this.ready, this.held]) {
      for (const entry of entries.values()) {
        for (const listId of entry.lists.keys()) {
          const n = out.get(listId) ?? { contacts: 0, bytes: 0 };
          n.contacts++;
          n.bytes += entry.bytes;
          out.set(listId, n);
        }
      }
    }
    return out;
  }

  add(update: ContactUpdate<R>, now: number): MergeOutcome {
    const sent = this.inflight.get(update.email);
    const sentChange = sent?.lists.get(update.listId);
    if (sentChange && isOlder(update, sentChange)) {
      // The newer change is already on its way: this one settles with it and is never sent.
      sentChange.refs.push(update.ref);
      return 'superseded-in-flight';
    }
    const waiting = sent !== undefined;
    const map = waiting ? this.held : this.ready;
    let entry = map.get(update.email);
    if (!entry) {
      entry = newEntry<R>(update.email, now);
      map.set(update.email, entry);
    }
    const before = entry.bytes;
    const outcome = applyUpdate(entry, update);
    if (waiting) this.heldBytes += entry.bytes - before;
    else this.readyBytes += entry.bytes - before;
    return outcome;
  }

  /** Which trigger, if any, says flush now. */
  due(now: number): FlushTrigger | undefined {
    if (this.ready.size >= this.limits.maxContacts) return 'size';
    if (this.readyBytes + this.ready.size + BODY_OVERHEAD > this.limits.maxBytes) return 'bytes';
    const oldest = this.oldestSince();
    if (oldest !== undefined && now - oldest >= this.limits.lingerMs) return 'age';
    return undefined;
  }

  /** When the age trigger fires next, if anything is buffered. */
  dueAt(): number | undefined {
    const oldest = this.oldestSince();
    return oldest === undefined ? undefined : oldest + this.limits.lingerMs;
  }

  /**
   * Cuts the next batch: entries in arrival order, at most maxContacts, body at most maxBytes. Their emails go
   * in flight. An entry too large for any request comes back alone in `oversize`. Entries `aside` says must wait
   * for something else first (a lookup) go in flight too, beside the batch, and do not count toward it.
   */
  take(
    trigger: FlushTrigger,
    maxContacts = this.limits.maxContacts,
    aside?: (entry: ContactEntry<R>) => boolean,
  ): { batch?: Batch<R>; oversize?: ContactEntry<R>; aside?: ContactEntry<R>[] } {
    const entries: ContactEntry<R>[] = [];
    const apart: ContactEntry<R>[] = [];
    let bytes = BODY_OVERHEAD;
    for (const entry of this.ready.values()) {
      if (entries.length >= maxContacts) break;
      if (this.blocked.size && this.blocked.has(entry.email)) continue;
      if (aside?.(entry)) {
        apart.push(entry);
        continue;
      }
      if (!entry.json) {
        // Serialized once, here: until now its bytes were an estimate.
        const estimate = entry.bytes;
        serialize(entry);
        this.readyBytes += entry.bytes - estimate;
      }
      const next = bytes + entry.bytes + (entries.length ? 1 : 0);
      if (next > this.limits.maxBytes) {
        if (entries.length === 0) {
          this.remove(entry);
          this.away(apart);
          return { oversize: entry, ...(apart.length ? { aside: apart } : {}) };
        }
        break;
      }
      bytes = next;
      entries.push(entry);
    }
    this.away(apart);
    const set = apart.length ? { aside: apart } : {};
    if (entries.length === 0) return set;
    this.away(entries);
    return { batch: { entries, ...bodyOf(entries), trigger }, ...set };
  }

  private away(entries: ContactEntry<R>[]): void {
    for (const entry of entries) {
      this.remove(entry);
      this.inflight.set(entry.email, entry);
    }
  }

  /** The import holding these emails settled: their waiting changes become ready. */
  release(emails: Iterable<string>): void {
    for (const email of emails) {
      this.inflight.delete(email);
      const waiting = this.held.get(email);
      if (!waiting) continue;
      this.held.delete(email);
      this.heldBytes -= waiting.bytes;
      this.ready.set(email, waiting);
      this.readyBytes += waiting.bytes;
    }
  }

  /**
   * A request failed before ActiveCampaign accepted it (or an import failed): its entries come back, merged under
   * any newer change that arrived meanwhile, ahead of everything else, so a resend carries the current state.
   */
  requeue(entries: Iterable<ContactEntry<R>>): void {
    const front = new Map<string, ContactEntry<R>>();
    for (const entry of entries) {
      this.inflight.delete(entry.email);
      const newer = this.held.get(entry.email);
      if (newer) {
        this.held.delete(entry.email);
        this.heldBytes -= newer.bytes;
        mergeUnder(newer, entry);
        front.set(entry.email, newer);
      } else {
        front.set(entry.email, entry);
      }
    }
    for (const [email, entry] of this.ready) if (!front.has(email)) front.set(email, entry);
    this.ready = front;
    this.readyBytes = 0;
    for (const entry of this.ready.values()) this.readyBytes += entry.bytes;
  }

  /**
   * Drops every change whose events satisfy `revoked` (partitions this member no longer owns). Returns dropped refs.
   */
  drop(revoked: (ref: R) => boolean): R[] {
    const dropped: R[] = [];
    for (const map of [this.ready, this.held]) {
      for (const [email, entry] of map) {
        const before = entry.lists.size;
        for (const [listId, change] of entry.lists) {
          const last = change.refs[change.refs.length - 1];
          if (last !== undefined && revoked(last)) {
            dropped.push(...change.refs);
            entry.lists.delete(listId);
          } else {
            const kept = change.refs.filter((r) => !revoked(r));
            dropped.push(...change.refs.filter(revoked));
            change.refs = kept;
          }
        }
        if (entry.lists.size === 0) map.delete(email);
        else if (entry.lists.size < before) serialize(entry); // the body must not name a dropped list
      }
    }
    this.recount();
    return dropped;
  }

  /** Every entry still waiting (ready or held), e.g. for a dry run's report. */
  *entries(): Iterable<ContactEntry<R>> {
    yield* this.ready.values();
    yield* this.held.values();
  }

  private remove(entry: ContactEntry<R>): void {
    this.ready.delete(entry.email);
    this.readyBytes -= entry.bytes;
  }

  private oldestSince(): number | undefined {
    let oldest: number | undefined;
    // Entries enter in arrival order, so the first is the oldest except after a requeue (which flushes at once).
    for (const entry of this.ready.values()) {
      oldest = entry.since;
      break;
    }
    return oldest;
  }

  private recount(): void {
    this.readyBytes = 0;
    this.heldBytes = 0;
    for (const e of this.ready.values()) this.readyBytes += e.bytes;
    for (const e of this.held.values()) this.heldBytes += e.bytes;
  }
}

export { entryRefs };

/** The bulk-import body for these entries, e.g. for a half of a bisected batch. */
export function bodyOf<R>(entries: readonly ContactEntry<R>[]): { body: string; bytes: number } {
  const close = entries.some((e) => e.excludeAutomations) ? BODY_CLOSE_EXCLUDING : BODY_CLOSE;
  let body = BODY_OPEN;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!e.json) serialize(e);
    body += i ? `,${e.json}` : e.json;
  }
  body += close;
  return { body, bytes: Buffer.byteLength(body) };
}
