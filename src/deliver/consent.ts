import type { Window } from '../ledger/decide.js';

/**
 * Consent as one decision table, pure. When a contact re-enters a list (or a bulk import listed it as failed),
 * its membership is read, and this table says what happens to the add. Only an unsubscribe the service provably
 * made is ever reversed; an unconfirmed membership (0) or none at all goes by bulk import, under ActiveCampaign's
 * own rules, never forced to 1. The README's "Consent" table is this one; test/deliver/consent.test.ts checks
 * that the two agree.
 */

/** The membership status ActiveCampaign reports: none, 0 unconfirmed, 1 active, 2 unsubscribed, 3 bounced. */
export type MembershipStatus = 'none' | 0 | 1 | 2 | 3;

/**
 * Where the membership's last unsubscribe (udate) falls against the window of one of the service's own intents:
 * before it, inside, after it; `no-window` when the service made no unsubscribe there (a bulk import refused
 * the add); `unreadable` when the date is missing or cannot be parsed; `opted-out` when the consent topic holds
 * the person's own opt-out of that list (ActiveCampaign's unsubscribe webhook, source public or admin, dated
 * outside the window): whatever the date says, the unsubscribe is the person's (src/consent/).
 */
export type WindowPlace = 'before' | 'inside' | 'after' | 'no-window' | 'unreadable' | 'opted-out';

/**
 * Whether a repeated unsubscribe (of a membership already in 2) moves udate in ActiveCampaign: unconfirmed
 * (CONTRACT.md). When it may, a udate inside the window can be the service's repeat of the contact's own earlier
 * unsubscribe, and the window cannot tell: `delivery.repeatUnsubscribeMovesUdate`.
 */
export type RepeatMovesUdate = 'no' | 'yes' | 'unknown';

export type ConsentAction =
  | { action: 'import' }
  | { action: 'resubscribe' }
  /** Already active: nothing to write, the add is confirmed. */
  | { action: 'leave-alone' }
  | { action: 'dead-letter'; code: ConsentCode };

export type ConsentCode = 'CONSENT_OPTED_OUT' | 'CONSENT_REENTRY_OFF' | 'CONSENT_UNCERTAIN' | 'CONTACT_BOUNCED';

export interface ConsentCase {
  status: MembershipStatus;
  place: WindowPlace;
  /** The export's `reentry` setting. */
  reentry: boolean;
  repeat: RepeatMovesUdate;
}

const dead = (code: ConsentCode): ConsentAction => ({ action: 'dead-letter', code });

/** The whole table. Each branch is one row group of the README's table. */
export function consent(c: ConsentCase): ConsentAction {
  if (c.status === 1) return { action: 'leave-alone' };
  if (c.status === 3) return dead('CONTACT_BOUNCED');
  // The person's own opt-out is no unsubscribe of the service's: re-entry off does not apply to it.
  const ours = c.place !== 'no-window' && c.place !== 'opted-out';
  if (c.status === 'none' || c.status === 0)
    return ours && !c.reentry ? dead('CONSENT_REENTRY_OFF') : { action: 'import' };
  // status 2: unsubscribed
  if (c.place === 'no-window' || c.place === 'before' || c.place === 'after' || c.place === 'opted-out')
    return dead('CONSENT_OPTED_OUT');
  if (c.place === 'unreadable') return dead('CONSENT_UNCERTAIN');
  if (c.repeat !== 'no') return dead('CONSENT_UNCERTAIN');
  return c.reentry ? { action: 'resubscribe' } : dead('CONSENT_REENTRY_OFF');
}

/** Every case of the table, in the README's order. */
export function consentCases(): ConsentCase[] {
  const out: ConsentCase[] = [];
  for (const status of ['none', 0, 1, 2, 3] as const)
    for (const place of ['before', 'inside', 'after', 'no-window', 'unreadable', 'opted-out'] as const)
      for (const reentry of [true, false])
        for (const repeat of ['no', 'yes', 'unknown'] as const) out.push({ status, place, reentry, repeat });
  return out;
}

/** The membership status as read (a string in GET /contacts/{id}/contactLists); anything else counts as none. */
export function statusOf(raw: unknown): MembershipStatus {
  if (raw === undefined || raw === null) return 'none';
  const n = Number(raw);
  return n === 0 || n === 1 || n === 2 || n === 3 ? n : 'none';
}

/**
 * Where `udate` falls against the window (both ends inclusive). ActiveCampaign's dates are "YYYY-MM-DD HH:MM:SS"
 * (taken as UTC) or ISO 8601 with an offset. `optedOut`: the consent topic holds the person's own opt-out of the
 * list that counts (src/consent/gate.ts decided): it wins over any date.
 */
export function placeOf(udate: unknown, window: Window | undefined, optedOut?: number): WindowPlace {
  if (optedOut !== undefined) return 'opted-out';
  if (!window) return 'no-window';
  if (typeof udate !== 'string') return 'unreadable';
  const t = Date.parse(udate.includes('T') || udate.includes('+') ? udate : `${udate.replace(' ', 'T')}Z`);
  if (Number.isNaN(t)) return 'unreadable';
  if (window.earlier && t >= window.earlier.from && t <= window.earlier.to) return 'inside';
  if (t < window.from) return 'before';
  if (t > window.to) return 'after';
  return 'inside';
}
