import type { ListChange } from '../buffer/contact-entry.js';
import type { DeadLetterCode } from '../domain/dead-letter-codes.js';
import type { Stage } from '../domain/errors.js';
import type { Route } from '../ledger/decide.js';
import type { ProfileRecord } from '../ledger/profiles.js';

/**
 * What delivery reports, as plain data, to one sink (src/offsets/outcomes.ts): it never settles anything itself.
 * Each (list, contact) change ends in one of these; the events attached to it end with it.
 */
export interface DeliveryOutcomes<R> {
  /** Changes ActiveCampaign confirmed, refused on consent, or that failed for good: recorded, then settled. */
  applied(connection: string, changes: AppliedChange<R>[]): void;
  /** Events that cannot be delivered: dead-lettered, then settled. */
  dead(refs: R[], stage: Stage, code: DeadLetterCode, message: string): void;
  /** Changes found stale when their import was cut (the ledger moved on meanwhile): settled, never sent. */
  skipped(refs: R[], result: 'stale' | 'leave_ignored'): void;
  /** ActiveCampaign accepted a request holding these refs (latency); with settleOnAccept they settle now. */
  accepted(refs: R[], at: number, settle: boolean): void;
  /** An erasure is done (the contact deleted, or the account never had it): recorded in the ledger, then settled. */
  erased(connection: string, erasure: Erasure<R>): void;
}

/** An erasure carried out for one account. */
export interface Erasure<R> {
  email: string;
  occurredAt: number;
  ref: R;
  result: 'deleted' | 'absent';
  /** When it was done (epoch ms). */
  at: number;
}

/** What delivery asks of the ledger before it sends (src/ledger/ledger.ts decides; src/service.ts wires it). */
export interface DeliveryGate<R> {
  /** How a buffered change goes out, decided when its import is cut. */
  route(connection: string, email: string, listId: string, change: ListChange<R>): Route;
  /**
   * Write-ahead: resolves once the intents of these unsubscribes are acknowledged; the import is sent only then.
   * Rejects when they cannot be written (the import is then not sent, and its changes wait in the buffer).
   */
  intend(
    connection: string,
    removes: { email: string; listId: string; change: ListChange<R> }[],
    at: number,
  ): Promise<void>;
  /** Whether a ref still counts (fetched in the current group generation): others are dropped, never sent. */
  live(ref: R): boolean;
  /**
   * Whether the ledger holds a record for this email on any list of the connection (so ActiveCampaign has the
   * contact): a remove of a contact it does not know is looked up before it is sent, since a bulk import would
   * create the contact. Looked up in the partition of `ref`.
   */
  knows?(connection: string, email: string, ref: R): boolean;
  /**
   * The tags that the connection's exports other than `listId`'s still give the contact: those whose list the
   * ledger holds as added for this email (looked up in the partition of `ref`). They stay when a leave removes tags.
   */
  givenTags?(connection: string, email: string, listId: string, ref: R): Set<string>;
  /**
   * The import carrying these unsubscribes was certainly not applied (a 429, a validation 400, a refusal): their
   * intents' windows close now, so that an open window never claims a person's own later unsubscribe.
   */
  withdraw?(connection: string, removes: { email: string; listId: string; change: ListChange<R> }[], at: number): void;
  /** The durable email-change map (profile records in the ledger); absent without a ledger. */
  profiles?: ProfileStore<R>;
}

/** Profile records, as the email changes of a connection use them (src/ledger/profiles.ts holds them). */
export interface ProfileStore<R> {
  /** The profile's record, from the partition of `ref` (undefined: none, or that partition is not restored). */
  get(connection: string, profileId: string, ref: R): ProfileRecord | undefined;
  /** An email's hash, as records hold it. */
  hash(email: string): string;
  /** Writes a record (never over a newer one); resolves once acknowledged, rejects when it cannot be written. */
  put(connection: string, profileId: string, ref: R, record: ProfileRecord): Promise<void>;
}

/** One (list, contact) change as ActiveCampaign took it. */
export interface AppliedChange<R> {
  email: string;
  listId: string;
  op: 'add' | 'remove';
  occurredAt: number;
  refs: R[];
  /** The event that set the change (one of `refs`): the ledger keys the record by its partition. */
  winner: R;
  /** When the request that carried it was accepted, and when it was confirmed (epoch ms). */
  sentAt: number;
  confirmedAt: number;
  /** Not applied: dead-letter the refs with this code (stage confirm), recorded first. */
  refused?: { code: DeadLetterCode; message: string };
  /** Failed for good (e.g. IMPORT_FAILED): dead-lettered with `refused`'s code; its intent is replaced. */
  failed?: boolean;
  /**
   * A remove of a contact ActiveCampaign does not have: nothing was sent (a bulk import would create it), the list
   * does not hold them. Recorded like a confirmed unsubscribe, so a replay of it is stale; its events end as a
   * counted skip (`leave_ignored`).
   */
  absent?: boolean;
}

/** The record of one change as it ended (refused or failed when given). */
export function appliedChange<R>(
  email: string,
  listId: string,
  c: ListChange<R>,
  sentAt: number,
  confirmedAt: number,
  refused?: AppliedChange<R>['refused'],
  failed?: boolean,
): AppliedChange<R> {
  const applied: AppliedChange<R> = {
    email,
    listId,
    op: c.op,
    occurredAt: c.occurredAt,
    refs: c.refs,
    winner: c.winner,
    sentAt,
    confirmedAt,
  };
  if (refused) applied.refused = refused;
  if (failed) applied.failed = failed;
  return applied;
}
