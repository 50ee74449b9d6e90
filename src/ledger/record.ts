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

/** `{topic}` in the configured template is replaced by the source topic. */
export function ledgerTopicFor(sourceTopic: string, template: string): string {
  return template.replace('{topic}', sourceTopic);
}

export function encodeLedgerValue(r: LedgerRecord): string {
  const value: Record<string, unknown> = { v: LEDGER_VERSION, op: r.op, occurredAt: r.occurredAt, byService: r.byService, sentAt: r.sentAt, confirmedAt: r.confirmedAt };
  if (r.refused) value.refused = r.refused;
  if (r.intent) value.intent = true;
  if (r.unapplied) value.unapplied = true;
  if (r.offset !== undefined) value.offset = r.offset;
  if (r.priorSentAt !== undefined && r.priorConfirmedAt !== undefined) {
    value.priorSentAt = r.priorSentAt;
    value.priorConfirmedAt = r.priorConfirmedAt;
  }
  return JSON.stringify(value);
}

/** Version 2 added intents; version-1 records (no intents) are still read. */
export const LEDGER_VERSION = 2;

/** Parses a stored value; undefined for anything that is not a version-1 or version-2 ledger record. */
export function decodeLedgerValue(raw: Buffer | string | null): LedgerRecord | undefined {
  if (raw === null || raw.length === 0) return undefined;
  if (typeof raw !== 'string') {
    // A restore reads a million of these: the exact form encodeLedgerValue writes is scanned in place.
    const scanned = scanLedgerValue(raw);
    if (scanned) return scanned;
  }
  const o = storedObject(raw);
  if (!o) return undefined;
  if ((o.v !== 1 && o.v !== 2) || (o.op !== 'add' && o.op !== 'remove') || typeof o.occurredAt !== 'number' || typeof o.byService !== 'boolean') return undefined;
  const out: LedgerRecord = { op: o.op, occurredAt: o.occurredAt, byService: o.byService, sentAt: num(o.sentAt), confirmedAt: num(o.confirmedAt) };
  if (typeof o.refused === 'string' && o.refused) out.refused = o.refused;
  if (o.v === 2 && o.intent === true && o.op === 'remove') out.intent = true;
  if (o.v === 2 && o.unapplied === true && o.op === 'remove' && o.byService === true) out.unapplied = true;
  if (o.v === 2 && typeof o.offset === 'number' && Number.isInteger(o.offset) && o.offset >= 0) out.offset = o.offset;
  if (o.v === 2 && typeof o.priorSentAt === 'number' && typeof o.priorConfirmedAt === 'number' && o.priorConfirmedAt > 0) {
    out.priorSentAt = o.priorSentAt;
    out.priorConfirmedAt = o.priorConfirmedAt;
  }
  return out;
}

const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

/** What the index keeps of a record. */
export function entryOf(r: LedgerRecord): LedgerEntry {
  let state: LedgerState;
  if (r.op === 'add') state = r.refused ? LedgerState.AddRefused : LedgerState.Added;
  else state = r.byService ? LedgerState.RemovedByService : LedgerState.RemovedOther;
  const entry: LedgerEntry = { state, occurredAt: r.occurredAt, sentAt: r.sentAt };
  if (r.offset !== undefined) entry.offset = r.offset;
  if (r.op === 'remove' && r.refused) entry.refusedAdd = true;
  if (state === LedgerState.RemovedByService && r.priorSentAt !== undefined && r.priorConfirmedAt !== undefined) {
    entry.priorFrom = r.priorSentAt;
    entry.priorTo = r.priorConfirmedAt;
  }
  if (state === LedgerState.RemovedByService && !r.intent && r.confirmedAt > 0) entry.confirmedAt = r.confirmedAt;
  if (state === LedgerState.RemovedByService && !r.intent && r.unapplied) entry.unapplied = true;
  return entry;
}

/*
 * The fast path of decodeLedgerValue: a version-2 value exactly as encodeLedgerValue writes it (keys in its order,
 * no spaces, whole non-negative numbers, a refused code without escapes), read from the bytes without JSON.parse.
 * Anything else answers undefined and goes the general way, so the two must agree on every value this accepts
 * (test/ledger/record.test.ts compares them).
 */
const lit = (s: string) => Buffer.from(s, 'latin1');
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
function expect(b: Buffer, at: number, l: Buffer): number {
  if (at < 0 || at + l.length > b.length) return -1;
  for (let i = 0; i < l.length; i++) if (b[at + i] !== l[i]) return -1;
  return at + l.length;
}

let scannedNumber = 0;
/** A whole number of 1 to 15 digits at `at` (no sign, no leading zero but 0 itself): its end, else -1. */
function number(b: Buffer, at: number): number {
  if (at < 0) return -1;
  let i = at;
  let n = 0;
  while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39 && i - at < 15) n = n * 10 + (b[i++]! - 0x30);
  if (i === at || (b[at] === 0x30 && i - at > 1) || (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39)) return -1;
  scannedNumber = n;
  return i;
}

function scanLedgerValue(b: Buffer): LedgerRecord | undefined {
  let at = expect(b, 0, L.head);
  let op: 'add' | 'remove' = 'add';
  let next = expect(b, at, L.add);
  if (next < 0) {
    op = 'remove';
    next = expect(b, at, L.remove);
  }
  at = next;
  at = number(b, expect(b, at, L.occurredAt));
  if (at < 0) return undefined;
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
  if (at < 0) return undefined;
  const sentAt = scannedNumber;
  at = number(b, expect(b, at, L.confirmedAt));
  if (at < 0) return undefined;
  const out: LedgerRecord = { op, occurredAt, byService, sentAt, confirmedAt: scannedNumber };
  next = expect(b, at, L.refused);
  if (next > 0) {
    let end = next;
    while (end < b.length && b[end] !== 0x22 && b[end] !== 0x5c && b[end]! >= 0x20 && b[end]! < 0x80) end++;
    if (end >= b.length || b[end] !== 0x22) return undefined; // an escape or non-ASCII: the general way
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
    if (next < 0) return undefined;
    if (scannedNumber > 0) {
      out.priorSentAt = priorSentAt;
      out.priorConfirmedAt = scannedNumber;
    }
    at = next;
  }
  return at === b.length - 1 && b[at] === 0x7d ? out : undefined;
}
