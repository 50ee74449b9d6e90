import type { BufferLimits } from '../buffer/contact-buffer.js';
import type { RepeatMovesUdate } from './consent.js';
import type { ReadRules } from './member-reads.js';

/** The settings of one account's delivery (src/deliver/wiring.ts fills them from the config). */
export interface AccountOptions {
  name: string;
  limits: BufferLimits;
  /** Imports accepted but not confirmed, at most (each costs polls from the same budget). */
  maxUnconfirmed: number;
  maxConcurrentRequests: number;
  maxImportResubmits: number;
  pollIntervalMs: number;
  /** An import not confirmed this long after acceptance is resubmitted from the newest buffered state. */
  confirmTimeoutMs: number;
  maxBackoffMs: number;
  /** Settle at acceptance instead of confirmation (opt-in; see README). */
  settleOnAccept: boolean;
  /** 'partitions': follow the fraction of source partitions this member owns; a number: a fixed share. */
  budgetShare: 'partitions' | number;
  /** Carved out of the account before the shares are applied (for replays, or taken by a replay itself). */
  reservedShare: number;
  /** Lists whose export removes its tags on a leave (exports.removeTagsOnLeave); none when not given. */
  untagLists?: ReadonlySet<string>;
  /** Whether a repeated unsubscribe moves udate in this account (consent.ts); 'no' when not given. */
  repeatUnsubscribeMovesUdate?: RepeatMovesUdate;
  /** Profiles the email-change map holds, at most (email-changes.ts); 0 turns email changes off. Default 250,000. */
  maxProfiles?: number;
  /** Contact-id lookups of new profiles per second, at most (email-changes.ts, with the ledger); 0 or absent: none. */
  profileLookupsPerSecond?: number;
  /**
   * When unknown removes are answered by reading a list's members once (member-reads.ts);
   * defaultReadRules when not given.
   */
  memberReads?: ReadRules;
}
