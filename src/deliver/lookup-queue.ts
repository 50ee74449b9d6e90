import type { Logger } from 'pino';
import type { ContactEntry } from '../buffer/contact-entry.js';
import type { DeadLetterCode } from '../domain/dead-letter-codes.js';
import type { Metrics } from '../observability/metrics.js';
import type { AcApi } from './client.js';
import type { Clock } from './clock.js';
import type { Verdict } from './classify.js';
import { contactIdOf } from './email-put.js';
import { oneRequest } from './flight.js';
import { membersPage, type ListRead } from './list-read.js';
import { MemberReads, type ReadRules } from './member-reads.js';
import type { DeliveryOutcomes } from './outcomes.js';

/** What the lookups need of their account. */
export interface LookupDeps<R> {
  name: string;
  client: AcApi;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  outcomes: DeliveryOutcomes<R>;
  buffer: { requeue(entries: Iterable<ContactEntry<R>>): void; release(emails: string[]): void };
  /** The account's effects (effects.ts): a request told to wait, an answer, a dead letter. */
  fx: () => {
    waited(v: Exclude<Verdict, { kind: 'ok' }>, now: number): number;
    sending(): number;
    up(now: number, sent: number): void;
    dead(entries: ContactEntry<R>[], stage: 'deliver', code: DeadLetterCode, message: string): void;
  };
  wake: () => void;
  rules: ReadRules;
}

interface LookupJob<R> {
  entry: ContactEntry<R>;
  notBefore: number;
  busy: boolean;
}

/**
 * Entries of removes only whose contact neither the ledger nor an earlier answer knows (plan.ts needsLookup): a
 * bulk import of them would create the contact. Each is answered by a per-email lookup (GET /contacts?email=), or,
 * when many wait on one list, by one read of that list's members (member-reads.ts owns the reads: the rule, their
 * freshness, what drops them). Found: the removes go by import. Absent: nothing to unsubscribe, settled unsent
 * (`leave_ignored`) and recorded `unapplied` in the ledger. Every entry's email stays in flight in the buffer until
 * it is answered.
 */
export class LookupQueue<R> {
  private readonly arrivals: ContactEntry<R>[] = [];
  private readonly queue: LookupJob<R>[] = [];
  private readonly reads: MemberReads<R>;
  /** Epoch ms (real time, whatever the scheduler's clock): a review scans the whole queue. */
  private nextReviewAt = 0;

  constructor(private readonly d: LookupDeps<R>) {
    this.reads = new MemberReads<R>(d.rules);
  }

  /** Entries waiting for an answer (a lookup or a read), or in the air. */
  get length(): number {
    return this.arrivals.length + this.queue.length + this.reads.waiting;
  }

  /** An entry to answer (the loop's old `lookups.push`); `notBefore` is ignored: it goes at the next dispatch. */
  push(job: { entry: ContactEntry<R>; notBefore?: number }): void {
    this.arrivals.push(job.entry);
  }

  /**
   * The contacts of these emails changed in ActiveCampaign (an erasure, an email change): no read begun before
   * now answers for them. Without emails anything may have changed (a rebalance, an email change of an email
   * this process does not know): every read is dropped and the removes waiting on them are looked up.
   */
  changed(emails?: readonly string[]): void {
    if (emails) {
      this.reads.invalidate(emails);
      return;
    }
    const { reads, parked } = this.reads.dropAll();
    if (reads) this.d.metrics.memberReads.inc({ connection: this.d.name, result: 'dropped' }, reads);
    for (const entry of parked) this.queue.push({ entry, notBefore: 0, busy: false });
    this.d.wake();
  }

  /**
   * Starts the requests that may go now, reads first (a page answers many), while `slot` allows;
   * returns when to look again.
   */
  dispatch(now: number, slot: (now: number) => number | true, flight: { requests: number }): number {
    for (const entry of this.arrivals.splice(0)) this.place(entry, now);
    this.reads.forget(now);
    // A review scans the queue: only when it could decide something, and at most once per skewMs of real time.
    const reviewable =
      !!this.d.client.listMembers &&
      this.d.rules.startAt > 0 &&
      this.queue.length >= Math.min(this.d.rules.startAt, this.reads.minResume());
    const epoch = this.d.clock.epoch();
    if (reviewable && epoch >= this.nextReviewAt) this.review(now, epoch);
    const due = this.reads.due(now);
    for (const read of due.expired) this.ended(read, now);
    let wakeAt = Math.min(
      due.wakeAt,
      reviewable ? now + this.d.clock.fromReal(Math.max(0, this.nextReviewAt - this.d.clock.epoch())) : Infinity,
    );
    for (const read of due.ready) {
      const s = slot(now);
      if (s !== true) return Math.min(wakeAt, s);
      void this.page(read, flight);
    }
    for (const job of this.queue) {
      if (job.busy) continue;
      if (job.notBefore > now) {
        wakeAt = Math.min(wakeAt, job.notBefore);
        continue;
      }
      const s = slot(now);
      if (s !== true) return Math.min(wakeAt, s);
      void this.lookup(job, flight);
    }
    return wakeAt;
  }

  /** Answers an entry from the reads if they can, parks it behind a read under way, or queues its lookup. */
  private place(entry: ContactEntry<R>, now: number): void {
    const verdict = this.reads.place(entry, now);
    if (verdict === 'lookup') this.queue.push({ entry, notBefore: 0, busy: false });
    else if (verdict !== 'wait') {
      this.d.metrics.memberReadAnswers.inc({ connection: this.d.name, result: verdict });
      if (verdict === 'found') this.found(entry);
      else this.absent(entry);
    }
  }

  /** member-reads.ts review(): probes begin, paused reads go on and take the queued lookups they answer. */
  private review(now: number, epoch: number): void {
    this.nextReviewAt = epoch + this.d.rules.skewMs;
    if (
      !this.reads.review(
        this.queue.map((j) => j.entry),
        epoch,
        now,
      )
    )
      return;
    const jobs = this.queue.splice(0);
    this.queue.push(...jobs.filter((j) => j.busy));
    for (const job of jobs) if (!job.busy) this.place(job.entry, now);
  }

  /**
   * One page of a read. Whatever its answer holds, it ends in a page read, a wait or a failed read: never a rejection.
   */
  private async page(read: ListRead, flight: { requests: number }): Promise<void> {
    const d = this.d;
    try {
      const sent = d.fx().sending();
      const a = await oneRequest(read, flight, () => d.client.listMembers!(read.next()), true);
      read.busy = false;
      const now = d.clock.now();
      if (!this.reads.current(read)) return; // failed by its deadline, or dropped, while the page was out
      const v = a.verdict;
      if (v.kind === 'throttled' || v.kind === 'account') {
        read.notBefore = d.fx().waited(v, now);
        return;
      }
      d.fx().up(now, sent);
      const page = v.kind === 'ok' ? membersPage(a.body) : undefined;
      if (v.kind !== 'ok') read.fail(`a page of members was refused (HTTP ${a.status})`);
      else if (!page) read.fail('a page of members was not a list of contacts with ids and emails');
      else {
        for (const entry of this.reads.seen(read, read.answered(page))) this.place(entry, now);
        if (read.phase === 'paused') this.nextReviewAt = 0; // the probe told the pages left: decide now
      }
      if (read.phase === 'done' || read.phase === 'failed') this.ended(read, now);
    } catch (err) {
      read.busy = false;
      if (this.reads.current(read)) {
        read.fail(`a page of members could not be read (${(err as Error).message})`);
        this.ended(read, d.clock.now());
      }
    } finally {
      d.wake();
    }
  }

  /** A read ended: the entries parked behind it are answered, or go back to lookups. */
  private ended(read: ListRead, now: number): void {
    this.d.metrics.memberReads.inc({ connection: this.d.name, result: read.phase === 'done' ? 'done' : 'failed' });
    if (read.failure)
      this.d.log.warn(
        { list: read.listId, reason: read.failure, requests: read.requests },
        "A read of a list's members ended early; its removes are looked up one by one",
      );
    else
      this.d.log.info(
        { list: read.listId, members: read.memberCount, requests: read.requests, bytes: read.memoryBytes },
        "A list's members were read once for the unknown removes waiting on it",
      );
    for (const entry of this.reads.ended(read, now)) this.place(entry, now);
    if (read.phase !== 'done') return;
    // Queued lookups it answers too (a probe that read the whole list ends before any review parks them).
    const jobs = this.queue.splice(0);
    for (const job of jobs) if (job.busy || !job.entry.lists.has(read.listId)) this.queue.push(job);
    for (const job of jobs) if (!job.busy && job.entry.lists.has(read.listId)) this.place(job.entry, now);
  }

  /**
   * One per-email lookup: found, the removes go (marked, so they are not looked up again); not found, they settle
   * unsent; a refused lookup, or an answer without a list of contacts, dead-letters them (never a contact created
   * to find out). A 429 or an outage waits.
   */
  private async lookup(job: LookupJob<R>, flight: { requests: number }): Promise<void> {
    const d = this.d;
    const sent = d.fx().sending();
    const a = await oneRequest(job, flight, () => d.client.findContact(job.entry.email), true);
    job.busy = false;
    const now = d.clock.now();
    const v = a.verdict;
    if (v.kind === 'throttled' || v.kind === 'account') job.notBefore = d.fx().waited(v, now);
    else {
      d.fx().up(now, sent);
      this.queue.splice(this.queue.indexOf(job), 1); // busy until here: nothing else answered it meanwhile
      const shaped = v.kind === 'ok' && Array.isArray(a.body?.contacts);
      const found = shaped && contactIdOf(a.body, job.entry.email) !== undefined;
      d.metrics.contactLookups.inc({ connection: d.name, result: found ? 'found' : shaped ? 'absent' : 'refused' });
      if (found) this.found(job.entry);
      else if (shaped) this.absent(job.entry);
      // A refused lookup says nothing about the contact: dead-letter the removes, never settle them unsent.
      else
        d.fx().dead(
          [job.entry],
          'deliver',
          'REJECTED',
          'the contact lookup before an unsubscribe was refused: ' +
            (v.kind === 'reject' ? v.message : v.kind === 'ok' ? 'the answer held no list of contacts' : 'HTTP error'),
        );
    }
    d.wake();
  }

  private found(entry: ContactEntry<R>): void {
    entry.inAccount = true;
    this.d.buffer.requeue([entry]);
  }

  /** Nothing to unsubscribe: recorded as the service's unsubscribe, unapplied (`absent`), and settled unsent. */
  private absent(entry: ContactEntry<R>): void {
    const at = this.d.clock.epoch();
    this.d.outcomes.applied(
      this.d.name,
      [...entry.lists].map(([listId, c]) => ({
        email: entry.email,
        listId,
        op: c.op,
        occurredAt: c.occurredAt,
        refs: c.refs,
        winner: c.winner,
        sentAt: at,
        confirmedAt: at,
        absent: true,
      })),
    );
    this.d.buffer.release([entry.email]);
  }
}
