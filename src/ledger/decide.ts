import { LedgerState, type LedgerEntry } from './hash-index.js';
import type { LedgerRecord } from './record.js';

/**
 * The ledger's decisions, pure: staleness, how an add reaches its list, and what a confirmed change records.
 *
 * Staleness, one rule inside a flush window and across windows: the newer occurredAt wins. At an equal
 * occurredAt, an event with the op the ledger already holds is stale (a replay, or the same event published
 * again at a new offset, changes nothing); one with the other op wins if it comes later in its partition (its
 * source offset), as it does inside a flush window. A copy re-published by `dlq replay` has no offset of its own
 * (`offset` undefined) and never wins a tie, and nothing wins a tie over a record without an offset (version 1).
 */
export function isStale(
  entry: LedgerEntry | undefined,
  occurredAt: number,
  offset?: number,
  op?: 'add' | 'remove',
): boolean {
  if (entry === undefined) return false;
  if (occurredAt !== entry.occurredAt) return occurredAt < entry.occurredAt;
  if (op !== undefined && op === opOf(entry)) return true;
  return offset === undefined || entry.offset === undefined || offset <= entry.offset;
}

/**
 * The op of the event an entry stands for (a refused re-entry was an add, though it leaves the contact unsubscribed).
 */
function opOf(entry: LedgerEntry): 'add' | 'remove' {
  return entry.refusedAdd || entry.state === LedgerState.Added || entry.state === LedgerState.AddRefused
    ? 'add'
    : 'remove';
}

/** Dead-letter codes of the consent rule (stage confirm). */
export const CONSENT_OPTED_OUT = 'CONSENT_OPTED_OUT';
export const CONSENT_REENTRY_OFF = 'CONSENT_REENTRY_OFF';

export type Route =
  /** Send it in a bulk import (a remove always; an add unless the ledger says the service unsubscribed them). */
  | { kind: 'import' }
  /** Older than what the ledger holds: settle without sending. */
  | { kind: 'stale' }
  /**
   * Re-entry: the service made (or may have made) the current unsubscribe; re-subscribe with contactLists if the
   * membership's unsubscribe date falls in the window of the service's own unsubscribe. `optedOut`: the consent
   * topic holds the person's own opt-out of the list (src/consent/gate.ts), which no date overrides; no window
   * then means the service made no unsubscribe there.
   */
  | { kind: 'resubscribe'; window?: Window; optedOut?: number }
  /** Re-entry, but the export has `reentry: false`: dead-letter with a consent code. */
  | { kind: 'reentry-off' };

/**
 * When an unsubscribe counts as the service's own: from its intent to its confirmation (epoch ms, both ends
 * inclusive). `earlier` is the window of the first of a run of the service's confirmed unsubscribes, kept because
 * ActiveCampaign may keep that first date when it is unsubscribed again; the time between the two is not ours
 * (the contact may have re-subscribed and unsubscribed themselves there).
 */
export interface Window {
  from: number;
  to: number;
  earlier?: { from: number; to: number };
}

/** Clock skew allowed between ActiveCampaign and this service when comparing an unsubscribe date with ours. */
export const UNSUBSCRIBE_SKEW_MS = 5_000;

/**
 * The window of the service's unsubscribe that an entry records: from its intent minus the skew to its
 * confirmation plus the skew; while unconfirmed, to the last moment it could still be applied (`openMs` after
 * the intent) plus the skew.
 */
export function windowOf(entry: LedgerEntry, openMs: number): Window {
  const to = entry.confirmedAt ?? entry.sentAt + openMs;
  const w: Window = { from: entry.sentAt - UNSUBSCRIBE_SKEW_MS, to: to + UNSUBSCRIBE_SKEW_MS };
  if (entry.priorFrom !== undefined && entry.priorTo !== undefined)
    w.earlier = { from: entry.priorFrom - UNSUBSCRIBE_SKEW_MS, to: entry.priorTo + UNSUBSCRIBE_SKEW_MS };
  return w;
}

/**
 * The window a new unsubscribe of the service starts over `prev` (intended at `at`): over an open intent (a resubmit
 * of the same unsubscribe) it keeps that intent's start; over a confirmed unsubscribe of its own it starts anew and
 * keeps the first applied one as the earlier window, never one window stretched over the time between them. An
 * unsubscribe that never reached ActiveCampaign (`unapplied`) set no date there: the next one does, so it is never
 * kept as the earlier window (only the earlier window it carried itself).
 */
function startOver(
  prev: LedgerEntry | undefined,
  at: number,
): Pick<LedgerRecord, 'sentAt' | 'priorSentAt' | 'priorConfirmedAt'> {
  if (prev?.state !== LedgerState.RemovedByService) return { sentAt: at };
  const prior =
    prev.priorFrom !== undefined && prev.priorTo !== undefined
      ? { priorSentAt: prev.priorFrom, priorConfirmedAt: prev.priorTo }
      : {};
  if (prev.confirmedAt === undefined) return { sentAt: Math.min(prev.sentAt, at), ...prior };
  if (prev.unapplied || prev.priorFrom !== undefined) return { sentAt: at, ...prior };
  return { sentAt: at, priorSentAt: prev.sentAt, priorConfirmedAt: prev.confirmedAt };
}

export function routeChange(
  entry: LedgerEntry | undefined,
  op: 'add' | 'remove',
  occurredAt: number,
  reentry: boolean,
  openWindowMs: number,
  offset?: number,
): Route {
  if (isStale(entry, occurredAt, offset, op)) return { kind: 'stale' };
  if (op === 'add' && entry?.state === LedgerState.RemovedByService)
    return reentry ? { kind: 'resubscribe', window: windowOf(entry, openWindowMs) } : { kind: 'reentry-off' };
  return { kind: 'import' };
}

export interface Outcome {
  op: 'add' | 'remove';
  occurredAt: number;
  sentAt: number;
  confirmedAt: number;
  /** The add was not applied: its consent code. */
  refused?: string;
  /** The import failed for good (dead-lettered): nothing was applied, but a remove may have been. */
  failed?: boolean;
  /**
   * The source offset of the change's event (staleness at an equal occurredAt); none for a dead-letter re-publication.
   */
  offset?: number;
  /**
   * A remove of which nothing reached ActiveCampaign: the contact was not there (nothing was sent), or its import
   * was refused outright (with `failed`). Recorded as the service's, but never kept as an earlier window.
   */
  unapplied?: boolean;
}

/** Whether an unsubscribe the service sends over `prev` is its own: not when it repeats one the contact made. */
export function unsubscribeIsOwn(prev: LedgerEntry | undefined): boolean {
  return prev?.state !== LedgerState.AddRefused && prev?.state !== LedgerState.RemovedOther;
}

/**
 * The intent written before the service sends an unsubscribe over `prev`, or undefined when the unsubscribe
 * repeats the contact's own (it is then not the service's, and needs no intent). A run of unsubscribes keeps the
 * first one's start, since ActiveCampaign may keep the first unsubscribe date.
 */
export function intentFor(prev: LedgerEntry | undefined, at: number): LedgerRecord | undefined {
  if (!unsubscribeIsOwn(prev)) return undefined;
  return {
    op: 'remove',
    byService: true,
    intent: true,
    occurredAt: prev?.occurredAt ?? 0,
    ...(prev?.offset !== undefined ? { offset: prev.offset } : {}),
    ...startOver(prev, at),
    confirmedAt: 0,
  };
}

/**
 * The record a confirmed, refused or failed change leaves. Every unsubscribe the service sends is its own, whether
 * or not it had subscribed the contact before, except one that repeats the contact's own (a refused add or such an
 * unsubscribe before it). A run of the service's unsubscribes keeps the first one's start. An add refused because
 * re-entry is off changes nothing but the time (the unsubscribe stays the service's); any other refused add means
 * the contact is unsubscribed by someone else. A failed remove replaces its intent (its unsubscribe may have been
 * applied) but keeps the occurredAt of the change applied before it, so its event is not stale when it is
 * replayed. Undefined: nothing to record (a failed add).
 */
export function recordFor(prev: LedgerEntry | undefined, o: Outcome): LedgerRecord | undefined {
  const offset = o.failed ? prev?.offset : o.offset;
  const at = offset !== undefined ? { offset } : {};
  if (o.op === 'add') {
    if (o.failed) return undefined; // nothing was applied, and no intent stands for an add
    const base = { occurredAt: o.occurredAt, ...at, sentAt: o.sentAt, confirmedAt: o.confirmedAt };
    if (o.refused === CONSENT_REENTRY_OFF && prev?.state === LedgerState.RemovedByService) {
      // The unsubscribe stays the service's, with its window as it was: only the time moves.
      const prior =
        prev.priorFrom !== undefined && prev.priorTo !== undefined
          ? { priorSentAt: prev.priorFrom, priorConfirmedAt: prev.priorTo }
          : {};
      return {
        op: 'remove',
        byService: true,
        ...base,
        sentAt: prev.sentAt,
        confirmedAt: prev.confirmedAt ?? o.confirmedAt,
        ...prior,
        refused: o.refused,
      };
    }
    return o.refused
      ? { op: 'add', byService: false, refused: o.refused, ...base }
      : { op: 'add', byService: false, ...base };
  }
  const base = {
    occurredAt: o.failed ? (prev?.occurredAt ?? 0) : o.occurredAt,
    ...at,
    sentAt: o.sentAt,
    confirmedAt: o.confirmedAt,
  };
  if (!unsubscribeIsOwn(prev)) return o.failed ? undefined : { op: 'remove', byService: false, ...base };
  return {
    op: 'remove',
    byService: true,
    ...base,
    ...startOver(prev, o.sentAt),
    ...(o.unapplied ? { unapplied: true } : {}),
  };
}

/**
 * Before a re-subscribe: whether the membership's current unsubscribe is the service's. ActiveCampaign's `udate`
 * is when the membership was last unsubscribed. Only one inside the window of the service's own unsubscribe is
 * the service's: one before it means the contact (or someone else) unsubscribed first and the service's request
 * changed nothing; one after it means the contact unsubscribed again since (say after re-subscribing through a
 * form). Both are opt-outs to keep. An unreadable date is not taken as ours.
 */
export function unsubscribeIsOurs(udate: unknown, window: Window): boolean {
  if (typeof udate !== 'string') return false;
  const t = Date.parse(udate.includes('T') || udate.includes('+') ? udate : `${udate.replace(' ', 'T')}Z`);
  if (Number.isNaN(t)) return false;
  if (window.earlier && t >= window.earlier.from && t <= window.earlier.to) return true;
  return t >= window.from && t <= window.to;
}
