import { randomUUID } from 'node:crypto';
import type { ImportContact } from './bulk-import.js';

/**
 * The asynchronous import worker (CONTRACT.md §4.9). Each accepted import gets its timeline when it is queued:
 * status false → waiting → claimed → active → a terminal state, with the configured delays (already divided by
 * the time scale). The status seen by /import/info is computed from that timeline when polled. Imports finish in
 * the order they were accepted (unless `inOrder` is false): an import never finishes before the one queued ahead
 * of it. A stuck import stops at its `stuck` status for ever; it holds up no other import.
 *
 * Memberships and contacts are changed when an import finishes even if nobody polls: one timer waits for the
 * oldest unfinished import, and `settle(now)` (called by the server before every request and every snapshot)
 * finishes whatever is due, so what a client reads is never behind the timeline.
 */
export type ImportStatus = false | 'waiting' | 'claimed' | 'active' | 'completed' | 'failed' | 'interrupted';
export type ImportFate = 'completed' | 'failed' | 'interrupted';

export interface ImportOutcome {
  /** Contact ids. */
  success: string[];
  /** Emails. */
  failure: string[];
}

export interface Timeline {
  statusFalse: number;
  waiting: number;
  claimed: number;
  active: number;
}

export interface ImportPlan {
  /** Durations of each phase, already scaled (active includes any drawn extra latency). */
  timeline: Timeline;
  fate: ImportFate;
  /** Where a stuck import stops for ever; undefined = it finishes. */
  stuck?: false | 'waiting' | 'claimed' | 'active' | undefined;
  /** false: finish when due, even before imports accepted earlier. */
  inOrder: boolean;
}

interface ImportRecord {
  batchId: string;
  contactCount: number;
  fate: ImportFate;
  acceptedOn: string;
  finishedOn?: string;
  falseUntil: number;
  waitingUntil: number;
  claimedUntil: number;
  /** Infinity for a stuck import. */
  doneAt: number;
  stuck?: false | 'waiting' | 'claimed' | 'active' | undefined;
  /** Dropped once applied. */
  contacts?: ImportContact[];
  outcome?: ImportOutcome;
}

export interface ImportCounts {
  queued: number;
  completed: number;
  failed: number;
  interrupted: number;
  /** Not finished yet, stuck ones included. */
  outstanding: number;
  stuck: number;
}

interface DayAggregate {
  forDate: string;
  batches: string;
  contacts: string;
}

const day = (d = new Date()): string => d.toISOString().slice(0, 10);

const ORDER: ImportStatus[] = [false, 'waiting', 'claimed', 'active'];

/** The in-progress status, held at `stuck` once the timeline reaches it. */
function capAt(status: ImportStatus, stuck: ImportStatus | undefined): ImportStatus {
  return stuck !== undefined && ORDER.indexOf(status) > ORDER.indexOf(stuck) ? stuck : status;
}

export class ImportQueue {
  private readonly records = new Map<string, ImportRecord>();
  /** Unfinished imports that will finish, by doneAt (in acceptance order when imports finish in order). */
  private pending: ImportRecord[] = [];
  private stuckCount = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clock: () => number,
    private readonly apply: (contacts: ImportContact[]) => ImportOutcome,
  ) {}

  enqueue(contacts: ImportContact[], plan: ImportPlan): string {
    const now = this.clock();
    const delays = plan.timeline;
    const falseUntil = now + delays.statusFalse;
    const waitingUntil = falseUntil + delays.waiting;
    const claimedUntil = waitingUntil + delays.claimed;
    const ahead = plan.inOrder ? (this.pending[this.pending.length - 1]?.doneAt ?? 0) : 0;
    const stuck = plan.stuck !== undefined;
    const doneAt = stuck ? Infinity : Math.max(claimedUntil + delays.active, ahead);
    const record: ImportRecord = {
      batchId: randomUUID(),
      contactCount: contacts.length,
      fate: plan.fate,
      acceptedOn: day(),
      falseUntil,
      waitingUntil,
      claimedUntil,
      doneAt,
      stuck: plan.stuck,
      contacts,
    };
    this.records.set(record.batchId, record);
    if (stuck) {
      this.stuckCount++;
      return record.batchId;
    }
    let i = this.pending.length;
    while (i > 0 && (this.pending[i - 1]?.doneAt ?? 0) > doneAt) i--;
    this.pending.splice(i, 0, record);
    this.schedule();
    return record.batchId;
  }

  /**
   * Lets every stuck import finish now, as its fate says (completed: its contacts are applied): a batch a client
   * gave up on may still complete, since ActiveCampaign cannot cancel one. Returns how many finished.
   */
  finishStuck(now = this.clock()): number {
    let n = 0;
    for (const r of this.records.values()) {
      if (r.stuck === undefined || r.outcome) continue;
      delete r.stuck;
      r.doneAt = now;
      this.pending.push(r);
      n++;
    }
    this.stuckCount = 0;
    this.pending.sort((a, b) => a.doneAt - b.doneAt);
    this.settle(now);
    return n;
  }

  /** Finish, in order, every import whose time has come. */
  settle(now = this.clock()): void {
    let finished = 0;
    for (const record of this.pending) {
      if (record.doneAt > now) break;
      const contacts = record.contacts ?? [];
      delete record.contacts;
      record.outcome = record.fate === 'completed' ? this.apply(contacts) : { success: [], failure: [] };
      record.finishedOn = day();
      finished++;
    }
    if (finished > 0) {
      this.pending = this.pending.slice(finished);
      this.schedule();
    }
  }

  /** The /import/info answer, or undefined for an unknown batchId. */
  info(batchId: string, now = this.clock()): Record<string, unknown> | undefined {
    const r = this.records.get(batchId);
    if (!r) return undefined;
    if (r.outcome) return { status: r.fate, success: r.outcome.success, failure: r.outcome.failure };
    const status = capAt(
      now < r.falseUntil ? false : now < r.waitingUntil ? 'waiting' : now < r.claimedUntil ? 'claimed' : 'active',
      r.stuck,
    );
    return status === false ? { status } : { status, success: [], failure: [] };
  }

  /** GET /import/bulk_import: unfinished imports by day accepted, finished ones of the last 7 days by day finished. */
  aggregates(): { outstanding: DayAggregate[]; recentlyCompleted: DayAggregate[] } {
    const weekAgo = day(new Date(Date.now() - 6 * 86_400_000));
    const outstanding = new Map<string, [number, number]>();
    const completed = new Map<string, [number, number]>();
    for (const r of this.records.values()) {
      const [target, date] = r.finishedOn === undefined ? [outstanding, r.acceptedOn] : [completed, r.finishedOn];
      if (target === completed && date < weekAgo) continue;
      const [batches, contacts] = target.get(date) ?? [0, 0];
      target.set(date, [batches + 1, contacts + r.contactCount]);
    }
    const list = (m: Map<string, [number, number]>): DayAggregate[] =>
      [...m]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([forDate, [b, c]]) => ({ forDate, batches: String(b), contacts: String(c) }));
    return { outstanding: list(outstanding), recentlyCompleted: list(completed) };
  }

  counts(): ImportCounts {
    const counts: ImportCounts = {
      queued: this.records.size,
      completed: 0,
      failed: 0,
      interrupted: 0,
      outstanding: this.pending.length + this.stuckCount,
      stuck: this.stuckCount,
    };
    for (const r of this.records.values()) if (r.outcome) counts[r.fate]++;
    return counts;
  }

  /** Forget every import (POST /__sim/reset). */
  clear(): void {
    this.records.clear();
    this.pending = [];
    this.stuckCount = 0;
    this.schedule();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.pending[0];
    if (!next) return;
    const wait = Math.max(0, Math.ceil(next.doneAt - this.clock()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.settle();
      this.schedule();
    }, wait);
    this.timer.unref();
  }
}
