import type { ContactEntry } from '../buffer/contact-entry.js';
import { backoffDelay } from '../domain/backoff.js';
import type { Random } from './clock.js';
import { POLL_STEP, POLL_TARGET, PollTiming } from './poll-timing.js';
import type { ReentryItem } from './reentry.js';

/**
 * Imports accepted and awaiting confirmation, their deadline, the batches abandoned past it, and how often each
 * contact was resubmitted. Pure: time comes in as arguments; the account loop makes the requests.
 */
export interface Unconfirmed<R> {
  batchId: string;
  entries: ContactEntry<R>[];
  acceptedAt: number;
  /** The same instant in epoch ms: the changes' sentAt in the ledger. */
  sentAt: number;
  /** email → lists re-subscribed with contactLists once this import is confirmed (left out of its body). */
  resubscribe: Map<string, ReentryItem<R>[]>;
  nextPollAt: number;
  polls: number;
  polling: boolean;
  /** Past its confirmation deadline: its changes were resubmitted; polled rarely until then, for the record. */
  abandonedUntil?: number;
}

export interface ConfirmOptions {
  pollIntervalMs: number;
  /** An import not confirmed this long after acceptance is resubmitted from the newest buffered state. */
  confirmTimeoutMs: number;
  maxImportResubmits: number;
}

/** An abandoned batch (ActiveCampaign cannot cancel one) is still polled this often, for this long. */
export const ABANDONED_POLL_MS = 5 * 60_000;
export const ABANDONED_FOR_MS = 24 * 3_600_000;

/** What a poll's answer means for its import. */
export type PollStep =
  | { kind: 'completed'; failure: string[] }
  | { kind: 'failed'; status: string }
  | { kind: 'again'; at: number };

export class Confirmations<R> {
  private readonly unconfirmed = new Map<string, Unconfirmed<R>>();
  /** Imports past their deadline, outside maxUnconfirmed: polled every 5 minutes for a day, then forgotten. */
  private readonly abandoned = new Map<string, Unconfirmed<R>>();
  private readonly resubmits = new Map<string, number>();
  /** When to poll: learnt from first polls, so that one poll per import is the common case (poll-timing.ts). */
  private readonly timing: PollTiming;

  constructor(
    private readonly opts: ConfirmOptions,
    private readonly random: Random = Math.random,
  ) {
    const minWaitMs = Math.min(opts.pollIntervalMs, 250);
    this.timing = new PollTiming({
      initialMs: opts.pollIntervalMs,
      minWaitMs,
      maxWaitMs: 10_000,
      maxFirstMs: opts.confirmTimeoutMs / 2,
      target: POLL_TARGET,
      step: POLL_STEP,
    });
  }

  /** How long after acceptance an import is first polled, as learnt so far. */
  get firstPollAfter(): number {
    return this.timing.firstAfter;
  }

  /** Accepted imports awaiting confirmation (abandoned ones not counted). */
  get size(): number {
    return this.unconfirmed.size;
  }

  accept(
    batchId: string,
    entries: ContactEntry<R>[],
    resubscribe: Map<string, ReentryItem<R>[]>,
    now: number,
    epoch: number,
  ): void {
    this.unconfirmed.set(batchId, {
      batchId,
      entries,
      acceptedAt: now,
      sentAt: epoch,
      resubscribe,
      nextPollAt: now + this.timing.firstAfter,
      polls: 0,
      polling: false,
    });
  }

  /**
   * What is due at `now`: imports past their deadline (to abandon), imports to poll (in order; the caller stops
   * where the budget does), and when anything not due now falls due.
   */
  due(now: number): { expired: Unconfirmed<R>[]; polls: Unconfirmed<R>[]; wakeAt: number } {
    const expired: Unconfirmed<R>[] = [];
    const polls: Unconfirmed<R>[] = [];
    let wakeAt = Infinity;
    for (const u of [...this.unconfirmed.values(), ...this.abandoned.values()]) {
      if (u.polling) continue;
      if (u.abandonedUntil === undefined) {
        const deadline = u.acceptedAt + this.opts.confirmTimeoutMs;
        if (now >= deadline) {
          expired.push(u);
          continue;
        }
        wakeAt = Math.min(wakeAt, deadline);
      }
      if (u.nextPollAt > now) wakeAt = Math.min(wakeAt, u.nextPollAt);
      else polls.push(u);
    }
    return { expired, polls, wakeAt };
  }

  /** A poll's answer (the import's status) at `now`; a final status ends the import here. */
  answered(u: Unconfirmed<R>, status: unknown, failure: string[] | undefined, now: number): PollStep {
    const final = status === 'completed' || status === 'failed' || status === 'interrupted';
    if (u.polls === 1) this.timing.firstAnswer(now - u.acceptedAt, final);
    if (status === 'completed') {
      this.unconfirmed.delete(u.batchId);
      return { kind: 'completed', failure: failure ?? [] };
    }
    if (status === 'failed' || status === 'interrupted') return this.end(u, status);
    return { kind: 'again', at: now + this.timing.againAfter(now - u.acceptedAt) };
  }

  /** A poll that could not be read as a status: the import is treated as failed. */
  end(u: Unconfirmed<R>, status: string): { kind: 'failed'; status: string } {
    this.unconfirmed.delete(u.batchId);
    return { kind: 'failed', status };
  }

  /**
   * The wait before polling an account that is down again: pollIntervalMs doubling up to 8×, at most 10 s, jittered.
   */
  backoff(u: Unconfirmed<R>): number {
    const { pollIntervalMs } = this.opts;
    return backoffDelay(
      u.polls,
      { initialMs: pollIntervalMs, maxMs: Math.min(pollIntervalMs * 8, 10_000) },
      this.random,
    );
  }

  /**
   * The deadline passed: the import is forgotten as unconfirmed and its entries come back to be resubmitted;
   * ActiveCampaign cannot cancel a batch, so it is polled rarely for a day (for the log), outside maxUnconfirmed.
   */
  abandon(u: Unconfirmed<R>, now: number): ContactEntry<R>[] {
    this.unconfirmed.delete(u.batchId);
    const entries = u.entries;
    u.entries = [];
    u.abandonedUntil = u.acceptedAt + ABANDONED_FOR_MS;
    u.nextPollAt = now + ABANDONED_POLL_MS;
    if (entries.length) this.abandoned.set(u.batchId, u);
    return entries;
  }

  /** An abandoned batch answered: true when it ended (a final status, or its day is over). */
  abandonedAnswered(u: Unconfirmed<R>, status: unknown, now: number): boolean {
    if (status === 'completed' || status === 'failed' || status === 'interrupted' || now >= u.abandonedUntil!) {
      this.abandoned.delete(u.batchId);
      return true;
    }
    u.nextPollAt = now + ABANDONED_POLL_MS;
    return false;
  }

  /** Sorts the entries of an import that did not complete: resubmit again, or give up (its count is spent). */
  resubmit(entries: ContactEntry<R>[]): {
    again: ContactEntry<R>[];
    exhausted: { entry: ContactEntry<R>; times: number }[];
  } {
    const again: ContactEntry<R>[] = [];
    const exhausted: { entry: ContactEntry<R>; times: number }[] = [];
    for (const entry of entries) {
      const n = this.count(entry.email);
      if (n === undefined) exhausted.push({ entry, times: this.opts.maxImportResubmits + 1 });
      else again.push(entry);
    }
    return { again, exhausted };
  }

  /** Counts one more resubmit of this contact; undefined when that is over the bound (the count is then cleared). */
  count(email: string): number | undefined {
    const n = (this.resubmits.get(email) ?? 0) + 1;
    if (n > this.opts.maxImportResubmits) {
      this.resubmits.delete(email);
      return undefined;
    }
    this.resubmits.set(email, n);
    return n;
  }

  /** The contact's change went through (or failed for good): a later change starts with a fresh count. */
  clear(email: string): void {
    this.resubmits.delete(email);
  }

  /** Nothing keyed by an email outlives its entries: a leftover would steer a later change of that email. */
  prune(holds: (email: string) => boolean): void {
    for (const email of this.resubmits.keys()) if (!holds(email)) this.resubmits.delete(email);
  }
}
