import { LedgerState, type LedgerEntry } from './index.js';
import type { LedgerRecord } from './record.js';

/**
 * The ledger's decisions, pure: staleness, how an add reaches its list, and what a confirmed change records.
 *
 * Staleness: an event whose occurredAt is at or before the ledger's entry for its key is stale. Equal counts as
 * stale, so replaying the same events twice sends nothing the second time; two different changes of one contact
 * and list with the same occurredAt are ordered by topic order only while both are in the buffer.
 */
export function isStale(entry: LedgerEntry | undefined, occurredAt: number): boolean {
  return entry !== undefined && occurredAt <= entry.occurredAt;
}

/** Dead-letter codes of the consent rule (stage confirm). */
export const CONSENT_OPTED_OUT = 'CONSENT_OPTED_OUT';
export const CONSENT_REENTRY_OFF = 'CONSENT_REENTRY_OFF';

export type Route =
  /** Send it in a bulk import (a remove always; an add unless the ledger says the service unsubscribed them). */
  | { kind: 'import' }
  /** Older than what the ledger holds: settle without sending. */
  | { kind: 'stale' }
  /** Re-entry: the service made the current unsubscribe; re-subscribe with contactLists. */
  | { kind: 'resubscribe'; unsubscribedAt: number }
  /** Re-entry, but the export has `reentry: false`: dead-letter with a consent code. */
  | { kind: 'reentry-off' };

export function routeChange(entry: LedgerEntry | undefined, op: 'add' | 'remove', occurredAt: number, reentry: boolean): Route {
  if (isStale(entry, occurredAt)) return { kind: 'stale' };
  if (op === 'add' && entry?.state === LedgerState.RemovedByService) return reentry ? { kind: 'resubscribe', unsubscribedAt: entry.sentAt } : { kind: 'reentry-off' };
  return { kind: 'import' };
}

export interface Outcome {
  op: 'add' | 'remove';
  occurredAt: number;
  sentAt: number;
  confirmedAt: number;
  /** The add was not applied: its consent code. */
  refused?: string;
}

/**
 * The record a confirmed (or refused) change leaves. An unsubscribe is the service's own only when the contact
 * was subscribed by the service just before it (an unsubscribe of an unknown or refused contact may be a no-op on
 * an opt-out). Repeating the service's unsubscribe keeps the first one's time. An add refused because re-entry is
 * off changes nothing but the time (the unsubscribe stays the service's); any other refused add means the
 * contact is unsubscribed by someone else.
 */
export function recordFor(prev: LedgerEntry | undefined, o: Outcome): LedgerRecord {
  const base = { occurredAt: o.occurredAt, sentAt: o.sentAt, confirmedAt: o.confirmedAt };
  if (o.op === 'add') {
    if (o.refused === CONSENT_REENTRY_OFF && prev?.state === LedgerState.RemovedByService) return { op: 'remove', byService: true, ...base, sentAt: prev.sentAt, refused: o.refused };
    return o.refused ? { op: 'add', byService: false, refused: o.refused, ...base } : { op: 'add', byService: false, ...base };
  }
  if (prev?.state === LedgerState.Added) return { op: 'remove', byService: true, ...base };
  if (prev?.state === LedgerState.RemovedByService) return { op: 'remove', byService: true, ...base, sentAt: prev.sentAt };
  return { op: 'remove', byService: false, ...base };
}

/** Clock skew allowed between ActiveCampaign and this service when comparing an unsubscribe date with ours. */
export const UNSUBSCRIBE_SKEW_MS = 5_000;

/**
 * Before a re-subscribe: whether the membership's current unsubscribe can be the service's. ActiveCampaign's
 * `udate` is when the membership was last unsubscribed; one before the service sent its unsubscribe means the
 * contact (or someone else) unsubscribed first and the service's request changed nothing: an opt-out to keep.
 * An unreadable date is not taken as ours.
 */
export function unsubscribeIsOurs(udate: unknown, unsubscribedAt: number): boolean {
  if (typeof udate !== 'string') return false;
  const t = Date.parse(udate.includes('T') || udate.includes('+') ? udate : `${udate.replace(' ', 'T')}Z`);
  if (Number.isNaN(t)) return false;
  return t >= unsubscribedAt - UNSUBSCRIBE_SKEW_MS;
}
