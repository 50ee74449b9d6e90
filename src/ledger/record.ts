import { storedObject } from '../domain/stored-json.js';
import { LedgerState, type LedgerEntry } from './hash-index.js';

/**
 * One ledger record: the last change the service applied (or refused) for one (connection, list, contact).
 * Key: `<connection>\u0000<listId>\u0000<normalised email>`; value: small JSON, schemas/ledger-record.schema.json.
 * The topic is compacted, so it keeps the newest record per key.
 */
export interface LedgerRecord {
  op: 'add' | 'remove';
  /** occurredAt of the event this record stands for, epoch ms. */
  occurredAt: number;
  /** Its offset in the source partition (version 2): breaks a tie in occurredAt. */
  offset?: number;
  /** True when the current unsubscribe was made by this service because the contact left a segment. */
  byService: boolean;
  /** Set when the add was not applied: the consent code it was dead-lettered with. */
  refused?: string;
  /** When the change was sent (the import or contactLists request was accepted), epoch ms. */
  sentAt: number;
  /** When ActiveCampaign confirmed the change (or refused it), epoch ms; 0 in an intent. */
  confirmedAt: number;
  /**
   * A write-ahead intent (version 2): the service is about to send this unsubscribe. Written and acknowledged
   * before the import goes out, so a crash after it still knows the unsubscribe may be ours. `occurredAt` is the
   * one of the change applied before (an intent never makes an event stale); `sentAt` starts the window.
   */
  intent?: boolean;
  /**
   * Version 2, remove by the service: nothing of it reached ActiveCampaign (the contact was not there, so nothing
   * was sent; or its import was refused outright). Its window never becomes a later unsubscribe's earlier window.
   */
  unapplied?: boolean;
  /** Version 2: the window of the first of a run of the service's applied unsubscribes (see decide.ts Window). */
  priorSentAt?: number;
  priorConfirmedAt?: number;
}

const SEP = '\u0000';

export function ledgerKey(connection: string, listId: string, email: string): string {
  return `${connection}${SEP}${listId}${SEP}${email}`;
}

export function splitLedgerKey(key: string): { connection: string; listId: string; email: string } | undefined {
  const [connection, listId, email, ...rest] = key.split(SEP);
  if (connection === undefined || listId === undefined || email === undefined || rest.length) return undefined;
  return { connection, listId, email };
}

/**
 * For a restore, from the key's bytes as read: where the person part of a list's key starts, when the key is
 * plainly one (ASCII, three parts, the first not empty, no two separators side by side: never an erasure marker or
 * the hash check, which both have those); -1 otherwise, and the key goes the way of splitLedgerKey(). Saves making
 * a string and three parts of every key read.
 */
export function plainKeyPerson(key: Uint8Array): number {
  if (key.length === 0 || key[0] === 0) return -1;
  let seps = 0;
  let person = -1;
  for (let i = 1; i < key.length; i++) {
    const c = key[i]!;
    if (c >= 0x80) return -1;
    if (c !== 0) continue;
    if (key[i - 1] === 0 || ++seps > 2) return -1;
    person = i + 1;
  }
  return seps === 2 ? person : -1;
}

/** `{topic}` in the configured template is replaced by the source topic. */
export function ledgerTopicFor(sourceTopic: string, template: string): string {
  return template.replace('{topic}', sourceTopic);
}

/**
 * The value, built as a string in one pass (every confirmed change writes one; an object and JSON.stringify cost
 * several times more). Exactly what JSON.stringify of { v, op, occurredAt, byService, sentAt, confirmedAt, refused?,
 * intent?, unapplied?, offset?, priorSentAt?, priorConfirmedAt? } writes (test/ledger/record.test.ts compares them).
 */
export function encodeLedgerValue(r: LedgerRecord): string {
  let v =
    `{"v":${LEDGER_VERSION},"op":${r.op === 'add' ? '"add"' : '"remove"'},"occurredAt":${json(r.occurredAt)},` +
    `"byService":${r.byService ? 'true' : 'false'},"sentAt":${json(r.sentAt)},"confirmedAt":${json(r.confirmedAt)}`;
  if (r.refused) v += `,"refused":${JSON.stringify(r.refused)}`;
  if (r.intent) v += ',"intent":true';
  if (r.unapplied) v += ',"unapplied":true';
  if (r.offset !== undefined) v += `,"offset":${json(r.offset)}`;
  if (r.priorSentAt !== undefined && r.priorConfirmedAt !== undefined)
    v += `,"priorSentAt":${json(r.priorSentAt)},"priorConfirmedAt":${json(r.priorConfirmedAt)}`;
  return `${v}}`;
}

/** A number as JSON.stringify writes it (a finite one in the same digits; anything else as null). */
const json = (n: number) => (Number.isFinite(n) ? String(n) : 'null');

/** Version 2 added intents; version-1 records (no intents) are still read. */
export const LEDGER_VERSION = 2;

/** Parses a stored value; undefined for anything that is not a version-1 or version-2 ledger record. */
export function decodeLedgerValue(raw: Buffer | string | null): LedgerRecord | undefined {
  if (raw === null || raw.length === 0) return undefined;
  if (typeof raw !== 'string') {
    // A restore reads a million of these: the exact form encodeLedgerValue writes is scanned in place.
    if (scanLedgerValue(raw, scratch)) return copyOf(scratch);
  }
  const o = storedObject(raw);
  if (!o) return undefined;
  if (
    (o.v !== 1 && o.v !== 2) ||
    (o.op !== 'add' && o.op !== 'remove') ||
    typeof o.occurredAt !== 'number' ||
    typeof o.byService !== 'boolean'
  )
    return undefined;
  const out: LedgerRecord = {
    op: o.op,
    occurredAt: o.occurredAt,
    byService: o.byService,
    sentAt: num(o.sentAt),
    confirmedAt: num(o.confirmedAt),
  };
  if (typeof o.refused === 'string' && o.refused) out.refused = o.refused;
  if (o.v === 2 && o.intent === true && o.op === 'remove') out.intent = true;
  if (o.v === 2 && o.unapplied === true && o.op === 'remove' && o.byService === true) out.unapplied = true;
  if (o.v === 2 && typeof o.offset === 'number' && Number.isInteger(o.offset) && o.offset >= 0) out.offset = o.offset;
  if (
    o.v === 2 &&
    typeof o.priorSentAt === 'number' &&
    typeof o.priorConfirmedAt === 'number' &&
    o.priorConfirmedAt > 0
  ) {
    out.priorSentAt = o.priorSentAt;
    out.priorConfirmedAt = o.priorConfirmedAt;
  }
  return out;
}

/** A record of its own with the fields `r` has (the scratch one leaves the absent ones undefined). */
function copyOf(r: LedgerRecord): LedgerRecord {
  const out: LedgerRecord = {
    op: r.op,
    occurredAt: r.occurredAt,
    byService: r.byService,
    sentAt: r.sentAt,
    confirmedAt: r.confirmedAt,
  };
  if (r.refused !== undefined) out.refused = r.refused;
  if (r.intent !== undefined) out.intent = r.intent;
  if (r.offset !== undefined) out.offset = r.offset;
  if (r.priorSentAt !== undefined && r.priorConfirmedAt !== undefined) {
    out.priorSentAt = r.priorSentAt;
    out.priorConfirmedAt = r.priorConfirmedAt;
  }
  return out;
}

const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

/**
 * What the index keeps of a stored value (decodeLedgerValue then entryOf), for a restore: the scanned form is read
 * into one reused record and made into one reused entry, so a value read allocates nothing. The entry answered is
 * that reused one: the caller reads it before the next call and keeps none of it (the index copies its fields).
 */
export function decodeLedgerEntry(raw: Buffer | null): LedgerEntry | undefined {
  if (raw !== null && raw.length > 0 && scanLedgerValue(raw, scratch)) return entryOf(scratch, scratchEntry);
  const r = decodeLedgerValue(raw);
  return r && entryOf(r, scratchEntry);
}

/** The entry decodeLedgerEntry() answers, every field set (or cleared) each time. */
const scratchEntry: LedgerEntry = { state: LedgerState.Added, occurredAt: 0, sentAt: 0 };

/** What the index keeps of a record: a new entry, or `into` with every field set (the absent ones undefined). */
export function entryOf(r: LedgerRecord, into?: LedgerEntry): LedgerEntry {
  let state: LedgerState;
  if (r.op === 'add') state = r.refused ? LedgerState.AddRefused : LedgerState.Added;
  else state = r.byService ? LedgerState.RemovedByService : LedgerState.RemovedOther;
  const removedByUs = state === LedgerState.RemovedByService;
  const prior = removedByUs && r.priorSentAt !== undefined && r.priorConfirmedAt !== undefined;
  const confirmed = removedByUs && !r.intent && r.confirmedAt > 0;
  const unapplied = removedByUs && !r.intent && r.unapplied;
  if (into) {
    into.state = state;
    into.occurredAt = r.occurredAt;
    into.sentAt = r.sentAt;
    into.offset = r.offset;
    into.refusedAdd = r.op === 'remove' && r.refused ? true : undefined;
    into.priorFrom = prior ? r.priorSentAt : undefined;
    into.priorTo = prior ? r.priorConfirmedAt : undefined;
    into.confirmedAt = confirmed ? r.confirmedAt : undefined;
    into.unapplied = unapplied ? true : undefined;
    return into;
  }
  const entry: LedgerEntry = { state, occurredAt: r.occurredAt, sentAt: r.sentAt };
  if (r.offset !== undefined) entry.offset = r.offset;
  if (r.op === 'remove' && r.refused) entry.refusedAdd = true;
  if (prior) {
    entry.priorFrom = r.priorSentAt;
    entry.priorTo = r.priorConfirmedAt;
  }
  if (confirmed) entry.confirmedAt = r.confirmedAt;
  if (unapplied) entry.unapplied = true;
  return entry;
}

/*
 * The fast path of decodeLedgerValue: a version-2 value exactly as encodeLedgerValue writes it (keys in its order,
 * no spaces, whole non-negative numbers, a refused code without escapes), read from the bytes without JSON.parse.
 * Anything else answers undefined and goes the general way, so the two must agree on every value this accepts
 * (test/ledger/record.test.ts compares them).
 */
// Plain byte arrays, not Buffers: the scan compares against them byte by byte.
const lit = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const L = {
  head: lit('{"v":2,"op":"'),
  add: lit('add"'),
  remove: lit('remove"'),
  occurredAt: lit(',"occurredAt":'),
  byService: lit(',"byService":'),
  true: lit('true'),
  false: lit('false'),
  sentAt: lit(',"sentAt":'),
  confirmedAt: lit(',"confirmedAt":'),
  refused: lit(',"refused":"'),
  intent: lit(',"intent":true'),
  offset: lit(',"offset":'),
  priorSentAt: lit(',"priorSentAt":'),
  priorConfirmedAt: lit(',"priorConfirmedAt":'),
};

/** Where `l` ends if the bytes at `at` are `l`, else -1. */
function expect(b: Buffer, at: number, l: Uint8Array): number {
  const n = l.length;
  if (at < 0 || at + n > b.length) return -1;
  for (let i = 0; i < n; i++) if (b[at + i] !== l[i]) return -1;
  return at + n;
}

let scannedNumber = 0;
/** A whole number of 1 to 15 digits at `at` (no sign, no leading zero but 0 itself): its end, else -1. */
function number(b: Buffer, at: number): number {
  if (at < 0) return -1;
  const end = Math.min(b.length, at + 16); // a 16th digit makes it too long
  let i = at;
  let n = 0;
  for (; i < end; i++) {
    const digit = b[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  const length = i - at;
  if (length === 0 || length > 15 || (length > 1 && b[at] === 0x30)) return -1;
  scannedNumber = n;
  return i;
}

/** The record decodeLedgerEntry() scans into: every field set (or cleared) by each scan. */
const scratch: LedgerRecord = { op: 'add', occurredAt: 0, byService: false, sentAt: 0, confirmedAt: 0 };

/**
 * Scans `b` into `out` (a fresh record, or the scratch one: optional fields are cleared first); false if not the form.
 */
function scanLedgerValue(b: Buffer, out: LedgerRecord): boolean {
  let at = expect(b, 0, L.head);
  let op: 'add' | 'remove' = 'add';
  let next = expect(b, at, L.add);
  if (next < 0) {
    op = 'remove';
    next = expect(b, at, L.remove);
  }
  at = next;
  at = number(b, expect(b, at, L.occurredAt));
  if (at < 0) return false;
  const occurredAt = scannedNumber;
  at = expect(b, at, L.byService);
  let byService = true;
  next = expect(b, at, L.true);
  if (next < 0) {
    byService = false;
    next = expect(b, at, L.false);
  }
  at = next;
  at = number(b, expect(b, at, L.sentAt));
  if (at < 0) return false;
  const sentAt = scannedNumber;
  at = number(b, expect(b, at, L.confirmedAt));
  if (at < 0) return false;
  out.op = op;
  out.occurredAt = occurredAt;
  out.byService = byService;
  out.sentAt = sentAt;
  out.confirmedAt = scannedNumber;
  out.refused = out.intent = out.offset = out.priorSentAt = out.priorConfirmedAt = undefined;
  next = expect(b, at, L.refused);
  if (next > 0) {
    let end = next;
    while (end < b.length && b[end] !== 0x22 && b[end] !== 0x5c && b[end]! >= 0x20 && b[end]! < 0x80) end++;
    if (end >= b.length || b[end] !== 0x22) return false; // an escape or non-ASCII: the general way
    if (end > next) out.refused = b.toString('latin1', next, end);
    at = end + 1;
  }
  next = expect(b, at, L.intent);
  if (next > 0) {
    if (op === 'remove') out.intent = true;
    at = next;
  }
  next = number(b, expect(b, at, L.offset));
  if (next > 0) {
    out.offset = scannedNumber;
    at = next;
  }
  next = number(b, expect(b, at, L.priorSentAt));
  if (next > 0) {
    const priorSentAt = scannedNumber;
    next = number(b, expect(b, next, L.priorConfirmedAt));
    if (next < 0) return false;
    if (scannedNumber > 0) {
      out.priorSentAt = priorSentAt;
      out.priorConfirmedAt = scannedNumber;
    }
    at = next;
  }
  return at === b.length - 1 && b[at] === 0x7d;
}
