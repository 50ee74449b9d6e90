import { emailProblem } from '../domain/email.js';

/**
 * ActiveCampaign's `unsubscribe` webhook, parsed and validated, pure (README, "Opt-out feedback"). AC posts it
 * form-encoded (application/x-www-form-urlencoded) with PHP-style keys: `type`, `date_time` (ISO 8601 with an
 * offset), `initiated_by` (the source: `public` a contact, `admin` an account user, `api`, `system`), `list`
 * (the list id) and `contact[email]`, among others we do not need. Only the person's own opt-outs count: sources
 * `public` and `admin`. An `api` one is this service's (or another integration's) request, and `system` is
 * ActiveCampaign's own processing (bounces and the like): the consent table handles those as before.
 */
export type Parsed =
  | { kind: 'opt-out'; email: string; listId: string; at: number }
  /** A well-formed webhook we do not record (another event type, or a source that is not the person's own). */
  | { kind: 'ignored'; reason: 'ignored_type' | 'ignored_source' }
  | { kind: 'malformed'; problem: string };

const OWN_SOURCES = new Set(['public', 'admin']);

export function parseUnsubscribe(body: string): Parsed {
  let form: URLSearchParams;
  try {
    form = new URLSearchParams(body);
  } catch {
    return { kind: 'malformed', problem: 'the body is not form-encoded' };
  }
  const one = (name: string): string | undefined => {
    const all = form.getAll(name);
    return all.length === 1 ? all[0]!.trim() : undefined;
  };
  const type = one('type');
  if (!type) return { kind: 'malformed', problem: 'no (single) type' };
  if (type !== 'unsubscribe') return { kind: 'ignored', reason: 'ignored_type' };
  const email = one('contact[email]')?.toLowerCase();
  if (!email || emailProblem(email) !== undefined)
    return { kind: 'malformed', problem: 'contact[email] is missing or not an email' };
  const listId = one('list');
  // A list id is a positive integer; "0" or none would say nothing about which list the person left.
  if (!listId || !/^[1-9][0-9]{0,18}$/.test(listId))
    return { kind: 'malformed', problem: 'list is missing or not a list id' };
  const when = one('date_time');
  const at = when ? parseDate(when) : NaN;
  if (!Number.isFinite(at)) return { kind: 'malformed', problem: 'date_time is missing or not a date' };
  const source = one('initiated_by') ?? one('source');
  if (!source) return { kind: 'malformed', problem: 'no initiated_by' };
  if (!OWN_SOURCES.has(source)) return { kind: 'ignored', reason: 'ignored_source' };
  return { kind: 'opt-out', email, listId, at };
}

/** ISO 8601 with an offset, or ActiveCampaign's "YYYY-MM-DD HH:MM:SS" (taken as UTC, as consent.ts does). */
function parseDate(s: string): number {
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}/.test(s)) return NaN;
  return Date.parse(
    s.includes('T') || /[+-]\d{2}:?\d{2}$|Z$/.test(s) ? s.replace(' ', 'T') : `${s.replace(' ', 'T')}Z`,
  );
}

/** A token bucket over an injected clock: `take()` answers whether one more request may go now. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
