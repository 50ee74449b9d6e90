import { DLQ_HEADERS } from '../../src/dlq/envelope.js';
import { CONSENT_OPTED_OUT } from '../../src/ledger/decide.js';
import type { ReadRecord } from './harness.js';

/**
 * The drills' oracle: what the end state must be, derived from the source records themselves (read back from
 * the topic, so partitions and offsets are the real ones) and from who unsubscribed themselves. Nothing here
 * asks the service: its counters do not survive a SIGKILL, and the point is to judge it from outside.
 *
 * Each source offset has one fate:
 *   apply       the newest event of its (list, email): ActiveCampaign must show its op
 *   superseded  an older event of a pair: the newest one accounts for it; never dead-lettered, except when it
 *               came after the person unsubscribed themselves and is an add or precedes such an add (the buffer
 *               coalesces it into that add: a CONSENT_OPTED_OUT letter is then allowed)
 *   refuse      the newest event of a pair is such an add: it must be dead-lettered CONSENT_OPTED_OUT
 *   dead        it cannot be decoded: it must be dead-lettered with that reason
 *   skip        its segment has no export: neither sent nor dead-lettered
 */
export type Op = 'add' | 'remove';

/**
 * `consent`: the person had unsubscribed themselves from the list before this event. `beforeRefusedAdd`: a later
 * add of the pair falls after the person's unsubscribe, so this older event may be refused together with it.
 */
export type Fate =
  | { kind: 'apply'; listId: string; email: string; op: Op; consent: boolean }
  | { kind: 'superseded'; listId: string; email: string; op: Op; consent: boolean; beforeRefusedAdd: boolean }
  | { kind: 'refuse'; listId: string; email: string; op: 'add'; consent: true }
  | { kind: 'dead'; reason: string }
  | { kind: 'skip'; segmentId: string };

export const pairOf = (listId: string, email: string) => `${listId}\u0000${email}`;
const showPair = (pair: string) => {
  const [listId, email] = pair.split('\u0000') as [string, string];
  return `list ${listId}: ${email}`;
};
const at = (partition: number, offset: number) => `${partition}/${offset}`;

interface Parsed {
  eventId: string;
  occurredAt: string;
  segmentId: string;
  op: Op;
  profile: { email: string };
}

export interface MembersView {
  lists: Record<string, { members: Record<string, { status: number }> } | undefined>;
  counters: { forcedResubscribes: number };
}

export interface DrillReport {
  mismatches: string[];
  /** The same mismatches by kind. */
  byKind: Record<string, string[]>;
  counts: {
    offsets: number;
    fates: Record<Fate['kind'], number>;
    pairs: number;
    letters: number;
    lettersByCode: Record<string, number>;
    /** CONSENT_OPTED_OUT letters of events no unsubscribe of the person's own preceded. */
    wrongConsentLetters: number;
    /** Distinct contacts with such a letter. */
    contactsRefusedWrongly: number;
    membershipMismatches: number;
    missingLetters: number;
    unexpectedLetters: number;
    forcedResubscribes: number;
  };
}

export class DrillOracle {
  /** "partition/offset" → fate. */
  readonly fates = new Map<string, Fate>();
  /** pair → what its list must show: 'in' (status 1), 'out' (not 1), 'opted-out' (status 2, the person's own). */
  readonly expected = new Map<string, 'in' | 'out' | 'opted-out'>();

  /**
   * `listOf`: segment → list id of the exports; `optedOut`: pairs (pairOf) whose person unsubscribed
   * themselves → the occurredAt after which that holds (-Infinity: before the run). Their list must end with
   * status 2 whatever the events say; only their events after that time may be refused.
   */
  constructor(
    readonly topic: string,
    source: readonly ReadRecord[],
    readonly listOf: ReadonlyMap<string, string>,
    readonly optedOut: ReadonlyMap<string, number>,
  ) {
    const newest = new Map<string, { occurredAt: number; key: string; op: Op; eventId: string }>();
    const events: { key: string; pair: string; listId: string; email: string; op: Op; occurredAt: number }[] = [];
    for (const r of source) {
      const key = at(r.partition, r.offset);
      let e: Parsed;
      try {
        e = JSON.parse(r.value?.toString() ?? '') as Parsed;
      } catch {
        this.fates.set(key, { kind: 'dead', reason: 'decode/NOT_JSON' });
        continue;
      }
      const listId = listOf.get(e.segmentId);
      if (listId === undefined) {
        this.fates.set(key, { kind: 'skip', segmentId: e.segmentId });
        continue;
      }
      const email = e.profile.email.trim().toLowerCase();
      const pair = pairOf(listId, email);
      const occurredAt = Date.parse(e.occurredAt);
      events.push({ key, pair, listId, email, op: e.op, occurredAt });
      const n = newest.get(pair);
      // The same event again (a producer's retry after a lost acknowledgement writes it twice): the later copy is
      // the newest, as the service ties equal times by offset. Two different events at one time are ambiguous.
      const again = n?.occurredAt === occurredAt && n.eventId === e.eventId && n.op === e.op;
      if (n && n.occurredAt === occurredAt && !again)
        throw new Error(`${showPair(pair)} has two events at ${e.occurredAt}: the drills need distinct times`);
      if (!n || occurredAt > n.occurredAt || again) newest.set(pair, { occurredAt, key, op: e.op, eventId: e.eventId });
    }
    // Per pair, the occurredAt of its last add made after the person unsubscribed themselves.
    const lastRefusedAdd = new Map<string, number>();
    for (const e of events) {
      if (e.op === 'add' && e.occurredAt > (optedOut.get(e.pair) ?? Infinity))
        lastRefusedAdd.set(e.pair, Math.max(e.occurredAt, lastRefusedAdd.get(e.pair) ?? -Infinity));
    }
    for (const e of events) {
      const isNewest = newest.get(e.pair)!.key === e.key;
      const consent = e.occurredAt > (optedOut.get(e.pair) ?? Infinity);
      const where = { listId: e.listId, email: e.email };
      const beforeRefusedAdd = consent && (lastRefusedAdd.get(e.pair) ?? -Infinity) > e.occurredAt;
      if (!isNewest) this.fates.set(e.key, { kind: 'superseded', ...where, op: e.op, consent, beforeRefusedAdd });
      else if (consent && e.op === 'add') this.fates.set(e.key, { kind: 'refuse', ...where, op: 'add', consent });
      else this.fates.set(e.key, { kind: 'apply', ...where, op: e.op, consent });
    }
    for (const [pair, n] of newest)
      this.expected.set(pair, optedOut.has(pair) ? 'opted-out' : n.op === 'add' ? 'in' : 'out');
    // A person who unsubscribed themselves on a list no event touches must still be unsubscribed.
    for (const pair of optedOut.keys()) if (!this.expected.has(pair)) this.expected.set(pair, 'opted-out');
  }

  /** Compares the simulator's lists and the dead-letter topic with the fates; every difference is a mismatch. */
  check(state: MembersView, letters: readonly ReadRecord[]): DrillReport {
    const membership: string[] = [];
    const lists = new Set(this.listOf.values());
    for (const [pair, want] of this.expected) {
      const [listId, email] = pair.split('\u0000') as [string, string];
      const status = state.lists[listId]?.members[email]?.status;
      const shown = status ?? 'absent';
      if (want === 'in' && status !== 1)
        membership.push(`${showPair(pair)} should be subscribed (newest event: add), is ${shown}`);
      if (want === 'out' && status === 1)
        membership.push(`${showPair(pair)} should not be subscribed (newest event: remove), is 1`);
      if (want === 'opted-out' && status !== 2)
        membership.push(`${showPair(pair)} unsubscribed themselves and should stay unsubscribed (2), is ${shown}`);
    }
    for (const listId of lists) {
      for (const [email, m] of Object.entries(state.lists[listId]?.members ?? {})) {
        if (m.status === 1 && !this.expected.has(pairOf(listId, email)))
          membership.push(`list ${listId}: ${email} is subscribed but no event added them`);
      }
    }

    const unexpected: string[] = [];
    const wrongConsent: string[] = [];
    const refusedWrongly = new Set<string>();
    const lettered = new Set<string>();
    const lettersByCode: Record<string, number> = {};
    for (const r of letters) {
      const code = r.headers[DLQ_HEADERS.code] ?? '(no code)';
      const reason = `${r.headers[DLQ_HEADERS.stage]}/${code}`;
      lettersByCode[code] = (lettersByCode[code] ?? 0) + 1;
      if (r.headers[DLQ_HEADERS.topic] !== this.topic) {
        unexpected.push(`a letter of topic ${r.headers[DLQ_HEADERS.topic]} (${reason})`);
        continue;
      }
      const key = at(Number(r.headers[DLQ_HEADERS.partition]), Number(r.headers[DLQ_HEADERS.offset]));
      const fate = this.fates.get(key);
      lettered.add(key);
      if (!fate) unexpected.push(`a letter for ${key}, which is not a source offset (${reason})`);
      else if (fate.kind === 'dead') {
        if (reason !== fate.reason) unexpected.push(`${key} is dead-lettered as ${reason}, expected ${fate.reason}`);
      } else if (fate.kind === 'skip')
        unexpected.push(
          `${key} (segment ${fate.segmentId}, no export) should be skipped, is dead-lettered as ${reason}`,
        );
      else {
        const pair = pairOf(fate.listId, fate.email);
        if (code === CONSENT_OPTED_OUT && !fate.consent) {
          const who = this.optedOut.has(pair) ? 'had not unsubscribed themselves yet' : 'never unsubscribed themselves';
          wrongConsent.push(
            `${showPair(pair)} dead-lettered ${CONSENT_OPTED_OUT} at ${key} (${fate.kind} ${fate.op}), but ${who}`,
          );
          refusedWrongly.add(fate.email);
        } else if (
          !(code === CONSENT_OPTED_OUT && (fate.op === 'add' || (fate.kind === 'superseded' && fate.beforeRefusedAdd)))
        ) {
          unexpected.push(`${showPair(pair)} at ${key} (${fate.kind} ${fate.op}) is dead-lettered as ${reason}`);
        }
      }
    }
    const missing: string[] = [];
    for (const [key, fate] of this.fates) {
      if (lettered.has(key)) continue;
      if (fate.kind === 'dead') missing.push(`${key} should be dead-lettered as ${fate.reason}, is not`);
      if (fate.kind === 'refuse')
        missing.push(
          `${showPair(pairOf(fate.listId, fate.email))} at ${key}: the add of a person who unsubscribed themselves should be dead-lettered ${CONSENT_OPTED_OUT}, is not`,
        );
    }
    const forced = state.counters.forcedResubscribes;
    const byKind: Record<string, string[]> = {
      'forced re-subscribes':
        forced > 0 ? [`the simulator counted ${forced} re-subscribes of people who had unsubscribed themselves`] : [],
      'wrong consent refusals': wrongConsent,
      'wrong memberships': membership,
      'missing letters': missing,
      'unexpected letters': unexpected,
    };
    const mismatches = Object.values(byKind).flat();
    const fates = { apply: 0, superseded: 0, refuse: 0, dead: 0, skip: 0 };
    for (const f of this.fates.values()) fates[f.kind]++;
    return {
      mismatches,
      byKind,
      counts: {
        offsets: this.fates.size,
        fates,
        pairs: this.expected.size,
        letters: letters.length,
        lettersByCode,
        wrongConsentLetters: wrongConsent.length,
        contactsRefusedWrongly: refusedWrongly.size,
        membershipMismatches: membership.length,
        missingLetters: missing.length,
        unexpectedLetters: unexpected.length,
        forcedResubscribes: forced,
      },
    };
  }
}

/** The report as an assertion message: the counts, then the first mismatches of each kind. */
export function describeReport(what: string, report: DrillReport, perKind = 8): string {
  const lines = [`${what}: ${report.mismatches.length} mismatches`, `counts: ${JSON.stringify(report.counts)}`];
  for (const [kind, list] of Object.entries(report.byKind)) {
    if (list.length === 0) continue;
    lines.push(`${kind} (${list.length}), first ones:`, ...list.slice(0, perKind).map((m) => `  - ${m}`));
  }
  return lines.join('\n');
}
