import type { ContactEntry } from '../buffer/contact-entry.js';
import type { DeadLetterCode } from '../domain/dead-letter-codes.js';
import { emailProblem } from '../domain/email.js';
import type { Verdict } from './classify.js';

/** What the account does with one bulk-import answer. Pure: the loop carries the actions out. */
export interface BulkActions<R> {
  /** Accepted: await this batch's confirmation. */
  accepted?: string;
  /** Back to the buffer, ahead of everything, merged under newer changes. */
  requeue: ContactEntry<R>[];
  /** Halves to send next, in order, before anything buffered. */
  bisect: ContactEntry<R>[][];
  /** To the dead-letter topic; `sent`: ActiveCampaign may have applied part of it (the ledger replaces intents). */
  dead: { entries: ContactEntry<R>[]; code: DeadLetterCode; message: string; sent: boolean }[];
  /** The account answered (an outage, if any, is over). */
  answered: boolean;
  /** The account is failing: pause with backoff. */
  pause?: { code: string; message: string };
  /** The account asked to wait. */
  throttle?: { code: string; retryAfterMs: number };
}

const none = <R>(): BulkActions<R> => ({ requeue: [], bisect: [], dead: [], answered: false });

export function bulkActions<R>(v: Verdict, entries: ContactEntry<R>[], batchId: string | undefined): BulkActions<R> {
  const a = none<R>();
  switch (v.kind) {
    case 'ok':
      a.answered = true;
      if (batchId) a.accepted = batchId;
      else
        a.dead.push({
          entries,
          code: 'NO_BATCH_ID',
          message: 'ActiveCampaign accepted the import without a batchId, so it cannot be confirmed',
          sent: true,
        });
      return a;
    case 'throttled':
      a.throttle = { code: v.code, retryAfterMs: v.retryAfterMs };
      a.requeue = entries;
      return a;
    case 'account':
      a.pause = { code: v.code, message: v.message };
      a.requeue = entries;
      return a;
    case 'invalid-contacts':
      a.answered = true;
      splitInvalid(a, entries, v.indexes, v.reasons);
      return a;
    case 'invalid-unnamed':
      a.answered = true;
      if (entries.length > 1) {
        const half = Math.ceil(entries.length / 2);
        a.bisect.push(entries.slice(0, half), entries.slice(half));
      } else
        a.dead.push({
          entries,
          code: 'INVALID_CONTACT',
          message: `HTTP 400 naming no usable contact index: ${v.body}`,
          sent: false,
        });
      return a;
    case 'reject':
      a.answered = true;
      a.dead.push({ entries, code: v.code, message: v.message, sent: false });
      return a;
  }
}

/**
 * A validation 400 names contacts by an index whose base (0 or 1) is not documented. An index whose two
 * candidates differ under our own email check is resolved; otherwise the batch is bisected until a single
 * contact is refused alone. Everything not refused goes back to the buffer, merged with newer changes.
 */
function splitInvalid<R>(a: BulkActions<R>, entries: ContactEntry<R>[], indexes: number[], reasons: string[]): void {
  const bad = new Set<number>();
  let ambiguous = false;
  for (const i of indexes) {
    const c0 = entries[i] && emailProblem(entries[i].email) ? i : undefined;
    const c1 = entries[i - 1] && emailProblem(entries[i - 1]!.email) ? i - 1 : undefined;
    if (c0 !== undefined) bad.add(c0);
    else if (c1 !== undefined) bad.add(c1);
    else ambiguous = true;
  }
  const reason = reasons[0] ?? 'refused by ActiveCampaign validation';
  if (entries.length === 1) {
    a.dead.push({ entries, code: 'INVALID_CONTACT', message: reason, sent: false });
    return;
  }
  for (const i of bad) a.dead.push({ entries: [entries[i]!], code: 'INVALID_CONTACT', message: reason, sent: false });
  const rest = entries.filter((_, i) => !bad.has(i));
  if (ambiguous && bad.size === 0) {
    const half = Math.ceil(rest.length / 2);
    a.bisect.push(rest.slice(0, half), rest.slice(half));
    return;
  }
  a.requeue = rest;
}
