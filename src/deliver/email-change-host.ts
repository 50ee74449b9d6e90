import type { Logger } from 'pino';
import type { ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import type { RateBudget } from './budget.js';
import type { AcApi } from './client.js';
import type { Clock, Timer } from './clock.js';
import type { PutReading } from './email-put.js';
import type { DeliveryOutcomes, ProfileStore } from './outcomes.js';

/** What an account gives its email changes (email-changes.ts), and the state of one change. */
export interface EmailChangeHost<R> {
  connection: string;
  budget: RateBudget;
  clock: Clock;
  client: AcApi;
  outcomes: DeliveryOutcomes<R>;
  /** Into the account's buffer. */
  add(update: ContactUpdate<R>): MergeOutcome;
  /** Whether anything of this email is buffered or in flight: the PUT waits until the old email's changes are done. */
  holds(email: string): boolean;
  log: Logger;
  /** Profiles held in the cache, at most (the oldest entry is forgotten first). */
  maxProfiles: number;
  /** The durable map (the ledger's profile records); without it the map is this process's memory only. */
  store?: ProfileStore<R> | undefined;
  /** Contact-id lookups of new profiles per second, at most (with a store); 0 or absent: none. */
  lookupsPerSecond?: number | undefined;
  /** A change ended (its held changes went on or were dead-lettered): the account may be idle now. */
  onIdle?: () => void;
  /** Each change's result (the email_changes metric), and each lookup's (profile_lookups). */
  onResult?: (result: EmailChangeResult) => void;
  onLookup?: (result: 'found' | 'absent') => void;
  /** A change ended: member reads stop answering for its emails (old and new; every email when the old is unknown). */
  contactsChanged?: (emails?: readonly string[]) => void;
}

export interface Change<R> {
  profileId: string;
  from?: string;
  fromHash?: string;
  to: string;
  contactId?: string;
  /** After a taken or unchanged answer: the id of the contact that has the new email, once looked up. */
  takenBy?: string | null;
  reading?: PutReading;
  intended?: boolean;
  /** The person was erased while the change was under way: nothing more is recorded for it. */
  erased?: boolean;
  occurredAt: number;
  /** The event that started it: its partition holds the profile's record. */
  ref: R;
  held: ContactUpdate<R>[];
  timer?: Timer;
}

export type EmailChangeResult = 'changed' | 'missing' | 'taken' | 'failed' | 'unresolved';
