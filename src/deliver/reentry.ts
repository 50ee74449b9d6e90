import type { ContactEntry, ListChange } from '../buffer/contact-entry.js';
import type { Verdict } from './classify.js';
import type { DeadLetterCode } from '../domain/dead-letter-codes.js';
import type { AcApi } from './client.js';
import { consent, placeOf, statusOf, type RepeatMovesUdate } from './consent.js';
import type { ReentryItem } from './plan.js';

export type { ReentryItem } from './plan.js';

/** The refusal reason of a CONSENT_UNCERTAIN re-entry. */
const MAYBE_THEIR_OWN =
  "the unsubscribe may be the contact's own (its date cannot tell it from a repeat of the service's)";

/** `refused`: the consent table dead-letters it with `code` (recorded first, like an opt-out). */
export type ReentryResult =
  | 'subscribed'
  | 'already'
  | 'opted_out'
  | 'bounced'
  | 'missing'
  | 'import'
  | 'refused'
  | 'failed';

export interface ReentryOutcome<R> {
  item: ReentryItem<R>;
  result: ReentryResult;
  /** When the re-subscribe was accepted (or the state was read). */
  at: number;
  /** failed or refused: why. */
  code?: DeadLetterCode;
  message?: string;
}

export type StepResult<R> =
  /** The account asked to wait or is failing: the same step runs again later. */
  | { kind: 'wait'; verdict: Exclude<Verdict, { kind: 'ok' }> }
  | { kind: 'progress' }
  | { kind: 'done'; outcomes: ReentryOutcome<R>[] };

/**
 * One contact's re-subscribes, a request per step from the account's budget: the contact id (GET /contacts?email=),
 * its memberships (one read for all its lists), then one contactLists write (status 1, sourceid 4) per list whose
 * current unsubscribe is the service's (dated inside the window of its own unsubscribe). A list already active needs
 * no write; an unsubscribe dated outside the window is an opt-out and stays; a bounced membership stays; no
 * membership or an unconfirmed one goes by bulk import. The same job reads the memberships of a contact that a bulk
 * import listed as failed (`after`), with no window: then nothing is ever written.
 */
export class ReentryJob<R> {
  private contactId: string | undefined;
  private lists: Map<string, { status: unknown; udate: unknown }> | undefined;
  private readonly todo: ReentryItem<R>[];
  private readonly outcomes: ReentryOutcome<R>[] = [];
  /** Not before this time (a throttled or failing account). */
  notBefore = 0;
  busy = false;

  constructor(
    readonly email: string,
    items: ReentryItem<R>[],
    private readonly now: () => number = Date.now,
    /** After a failed contact: its entry, and the removes of that import to send again. */
    readonly after?: { entry: ContactEntry<R>; resend: [string, ListChange<R>][] },
    /** delivery.repeatUnsubscribeMovesUdate: whether a udate inside the window can be a repeat of the contact's own. */
    private readonly repeat: RepeatMovesUdate = 'no',
  ) {
    this.todo = [...items];
  }

  /** Decides what needs no request; true when a request is needed to go on. */
  needsRequest(): boolean {
    if (this.contactId === undefined || this.lists === undefined) return true;
    while (this.todo.length) {
      const item = this.todo[0]!;
      const m = this.lists.get(item.listId);
      // The consent table (consent.ts) decides; only a re-subscribe needs a request.
      const d = consent({
        status: statusOf(m?.status),
        place: placeOf(m?.udate, item.window, item.optedOut),
        reentry: true,
        repeat: this.repeat,
      });
      if (d.action === 'import') this.finish(item, 'import');
      else if (d.action === 'leave-alone') this.finish(item, 'already');
      else if (d.action === 'dead-letter' && d.code === 'CONTACT_BOUNCED') this.finish(item, 'bounced');
      else if (d.action === 'dead-letter' && d.code === 'CONSENT_OPTED_OUT') this.finish(item, 'opted_out');
      else if (d.action === 'dead-letter')
        this.finish(
          item,
          'refused',
          d.code,
          `${d.code === 'CONSENT_UNCERTAIN' ? MAYBE_THEIR_OWN : 'refused by the consent table'}: not re-subscribed`,
        );
      else return true;
    }
    return false;
  }

  /** The outcomes, once needsRequest() is false. */
  result(): ReentryOutcome<R>[] {
    return this.outcomes;
  }

  /** One request (call only when needsRequest() is true and the budget allowed it). */
  async step(client: AcApi): Promise<StepResult<R>> {
    if (this.contactId === undefined) {
      const a = await client.findContact(this.email);
      if (a.verdict.kind !== 'ok') return this.refused(a.verdict);
      // Only the contact with this very email: another one's memberships must never be read as this person's.
      const found = a.body?.contacts?.find((c) => c.email.toLowerCase() === this.email);
      if (!found) return this.endAll('missing');
      this.contactId = String(found.id);
      return this.next();
    }
    if (this.lists === undefined) {
      const a = await client.memberships(this.contactId);
      if (a.verdict.kind !== 'ok') return a.status === 404 ? this.endAll('missing') : this.refused(a.verdict);
      this.lists = new Map(
        (a.body?.contactLists ?? []).map((m) => [String(m.list), { status: m.status, udate: m.udate }]),
      );
      return this.next();
    }
    const item = this.todo[0]!;
    const a = await client.setListStatus(this.contactId, item.listId, 1, 4);
    if (a.verdict.kind === 'throttled' || a.verdict.kind === 'account') return { kind: 'wait', verdict: a.verdict };
    this.todo.shift();
    if (a.verdict.kind === 'ok') this.finish(item, 'subscribed');
    else
      this.finish(
        item,
        'failed',
        a.verdict.kind === 'reject' ? a.verdict.code : 'REJECTED',
        a.verdict.kind === 'reject' ? a.verdict.message : 'refused',
      );
    return this.next();
  }

  private refused(v: Exclude<Verdict, { kind: 'ok' }>): StepResult<R> {
    if (v.kind === 'throttled' || v.kind === 'account') return { kind: 'wait', verdict: v };
    const message = v.kind === 'reject' ? v.message : 'refused';
    for (const item of this.todo.splice(0))
      this.finish(item, 'failed', v.kind === 'reject' ? v.code : 'REJECTED', message);
    return { kind: 'done', outcomes: this.outcomes };
  }

  private endAll(result: ReentryResult): StepResult<R> {
    for (const item of this.todo.splice(0)) this.finish(item, result);
    return { kind: 'done', outcomes: this.outcomes };
  }

  private next(): StepResult<R> {
    return this.needsRequest() ? { kind: 'progress' } : { kind: 'done', outcomes: this.outcomes };
  }

  private finish(item: ReentryItem<R>, result: ReentryResult, code?: DeadLetterCode, message?: string): void {
    if (this.todo[0] === item) this.todo.shift();
    this.outcomes.push({ item, result, at: this.now(), ...(code ? { code } : {}), ...(message ? { message } : {}) });
  }
}
