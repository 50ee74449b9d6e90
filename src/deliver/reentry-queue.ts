import { newEntry, serialize, type ContactEntry, type ListChange } from '../buffer/contact-entry.js';
import { ListChanges } from '../buffer/list-changes.js';
import { CONSENT_OPTED_OUT } from '../ledger/decide.js';
import type { DeadLetterCode } from '../domain/dead-letter-codes.js';
import type { RepeatMovesUdate } from './consent.js';
import { appliedChange, type AppliedChange } from './outcomes.js';
import { ReentryJob, type ReentryItem, type ReentryOutcome, type ReentryResult } from './reentry.js';

/**
 * The re-entry queue, pure: the contactLists jobs that follow a confirmed import (re-subscribes left out of its
 * body, and the memberships read after a contact was listed as failed), and what each finished job leaves.
 */
export interface ReentryEnd<R> {
  /** Changes to record: confirmed, or refused on consent (CONSENT_OPTED_OUT, CONTACT_BOUNCED). */
  changes: AppliedChange<R>[];
  /** Re-subscribes that failed: dead-letter these refs. */
  dead: { refs: R[]; code: DeadLetterCode; message: string }[];
  /** What must go by bulk import again (an entry of the job's email), if anything. */
  resend?: ContactEntry<R>;
  /** Each item's result, for the resubscribes metric. */
  results: ReentryResult[];
}

/** `email\u0000listId` */
const k = (email: string, listId: string) => `${email}\u0000${listId}`;

export class ReentryQueue<R> {
  private readonly jobs: ReentryJob<R>[] = [];
  /** Re-entries whose contact has no membership to reverse: imported instead, once. */
  private readonly plainNext = new Set<string>();

  constructor(
    private readonly now: () => number,
    private readonly repeat: RepeatMovesUdate = 'no',
  ) {}

  get size(): number {
    return this.jobs.length;
  }

  /**
   * A completed import: each (list, contact) change not in `failure` is confirmed. A contact in `failure` had
   * something refused, and ActiveCampaign does not say which list: its memberships are read (a job with no
   * window of ours), each add is then confirmed (active), refused (unsubscribed: CONSENT_OPTED_OUT; bounced) or
   * sent again, and its removes are sent again: one refused list never takes the contact's other lists with it.
   * Re-entries left out of the body now go to contactLists. Emails stay in flight until those jobs are done.
   */
  completed(
    entries: ContactEntry<R>[],
    resubscribe: Map<string, ReentryItem<R>[]>,
    failure: ReadonlySet<string>,
    acceptedAt: number,
    now: number,
  ): { changes: AppliedChange<R>[]; release: string[]; confirmed: string[]; failed: string[] } {
    const changes: AppliedChange<R>[] = [];
    const release: string[] = [];
    const confirmed: string[] = [];
    const failed: string[] = [];
    for (const entry of entries) {
      const later = resubscribe.get(entry.email) ?? [];
      // Most entries have no re-entry: no set for them (this runs for every confirmed contact).
      const left = later.length ? new Set(later.map((i) => i.listId)) : undefined;
      if (!failure.has(entry.email)) {
        confirmed.push(entry.email);
        for (const [listId, c] of entry.lists)
          if (!left?.has(listId)) changes.push(appliedChange(entry.email, listId, c, acceptedAt, now));
        if (later.length) this.jobs.push(new ReentryJob(entry.email, later, this.now, undefined, this.repeat));
        else release.push(entry.email);
        continue;
      }
      failed.push(entry.email);
      const adds: ReentryItem<R>[] = [];
      const resend: [string, ListChange<R>][] = [];
      for (const [listId, change] of entry.lists) {
        if (left?.has(listId)) continue;
        if (change.op === 'add') adds.push({ listId, change });
        else resend.push([listId, change]);
      }
      this.jobs.push(new ReentryJob(entry.email, [...later, ...adds], this.now, { entry, resend }, this.repeat));
    }
    return { changes, release, confirmed, failed };
  }

  /** Jobs that can go on at `now`: those that need a request, those done without one, and when others may go. */
  due(now: number): { ready: ReentryJob<R>[]; finished: ReentryJob<R>[]; wakeAt: number } {
    const ready: ReentryJob<R>[] = [];
    const finished: ReentryJob<R>[] = [];
    let wakeAt = Infinity;
    for (const job of this.jobs) {
      if (job.busy) continue;
      if (job.notBefore > now) wakeAt = Math.min(wakeAt, job.notBefore);
      else if (job.needsRequest()) ready.push(job);
      else finished.push(job);
    }
    return { ready, finished, wakeAt };
  }

  /** Whether a re-entry of this (email, list) found nothing to reverse: it goes by plain import (asked once). */
  takePlain(email: string, listId: string): boolean {
    return this.plainNext.delete(k(email, listId));
  }

  /**
   * A job finished: what happened to each list, and what must go by bulk import again (no membership, an
   * unconfirmed one, or no contact at all: a plain import under ActiveCampaign's own rules; and the removes of
   * a failed contact). Undefined when the job was already gone.
   */
  finish(job: ReentryJob<R>, outcomes: ReentryOutcome<R>[]): ReentryEnd<R> | undefined {
    const i = this.jobs.indexOf(job);
    if (i < 0) return undefined;
    this.jobs.splice(i, 1);
    const end: ReentryEnd<R> = { changes: [], dead: [], results: [] };
    const again = new ListChanges<R>(job.after?.resend ?? []);
    for (const { item, result, at, code, message } of outcomes) {
      end.results.push(result);
      const c = (refused?: AppliedChange<R>['refused']) =>
        appliedChange(job.email, item.listId, item.change, at, at, refused);
      if (result === 'subscribed' || result === 'already') end.changes.push(c());
      else if (result === 'opted_out') {
        const why =
          item.optedOut !== undefined
            ? "the person opted out of this list themselves (ActiveCampaign's " +
              'unsubscribe webhook, recorded in the consent topic)'
            : item.window
              ? 'the contact unsubscribed outside the window of the ' +
                "service's own unsubscribe (before it, or again after it)"
              : 'ActiveCampaign refused to subscribe the contact and ' +
                'its membership is unsubscribed, not by this service';
        end.changes.push(c({ code: code ?? CONSENT_OPTED_OUT, message: message ?? `${why}: the opt-out stands` }));
      } else if (result === 'bounced')
        end.changes.push(c({ code: 'CONTACT_BOUNCED', message: 'the membership is bounced: not re-subscribed' }));
      else if (result === 'refused') end.changes.push(c({ code: code!, message: message! }));
      else if (result === 'missing' || result === 'import') {
        this.plainNext.add(k(job.email, item.listId));
        again.set(item.listId, item.change);
      } else
        end.dead.push({
          refs: item.change.refs,
          code: code ?? 'RESUBSCRIBE_FAILED',
          message: message ?? 'contactLists refused the re-subscribe',
        });
    }
    if (again.size) {
      const entry = job.after?.entry ?? newEntry<R>(job.email, this.now());
      entry.lists = again;
      serialize(entry);
      end.resend = entry;
    }
    return end;
  }

  /** Nothing keyed by an email outlives its entries. */
  prune(holds: (email: string) => boolean): void {
    for (const key of this.plainNext) if (!holds(key.slice(0, key.indexOf('\u0000')))) this.plainNext.delete(key);
  }
}
