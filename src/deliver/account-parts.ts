import type { Logger } from 'pino';
import { ContactBuffer } from '../buffer/contact-buffer.js';
import type { ContactEntry, ContactUpdate, MergeOutcome } from '../buffer/contact-entry.js';
import type { Metrics } from '../observability/metrics.js';
import type { AccountOptions } from './account-options.js';
import type { RateBudget } from './budget.js';
import type { AcApi } from './client.js';
import type { Clock, Random } from './clock.js';
import { Confirmations } from './confirmations.js';
import { AccountEffects } from './effects.js';
import { EmailChanges } from './email-changes.js';
import { ErasureQueue } from './erasure-queue.js';
import { AccountHealth } from './health.js';
import { ImportDispatch } from './import-dispatch.js';
import { LateImports } from './late-imports.js';
import { LookupQueue } from './lookup-queue.js';
import { defaultReadRules } from './member-reads.js';
import { meteredApi } from './metered-api.js';
import type { DeliveryGate, DeliveryOutcomes } from './outcomes.js';
import { ReentryQueue } from './reentry-queue.js';
import { RequestJobs } from './request-jobs.js';
import { AccountRequests, type Flight } from './requests.js';
import { UntagQueue } from './untag-queue.js';

/** What one account's delivery is made of; the loop (account-delivery.ts) only runs them. */
export interface AccountParts<R> {
  /** The account's client, every request of it counted by the budget (metered-api.ts). */
  client: AcApi;
  buffer: ContactBuffer<R>;
  confirms: Confirmations<R>;
  reentries: ReentryQueue<R>;
  /** Abandoned imports that may still complete over newer changes (their newest state is then sent again). */
  late: LateImports<R>;
  untags: UntagQueue<R>;
  health: AccountHealth;
  fx: AccountEffects<R>;
  /** Halves of a bisected batch, sent before the buffer. */
  bisectQueue: ContactEntry<R>[][];
  /** Entries of removes only whose contact neither the ledger nor a lookup knows: a lookup or a member read first. */
  lookups: LookupQueue<R>;
  flight: Flight;
  /** Erasure requests under way (erasure-queue.ts). */
  erasures: ErasureQueue<R>;
  io: AccountRequests<R>;
  /** Cut → plan → send (import-dispatch.ts). */
  imports: ImportDispatch<R>;
  /** Polls, re-entries and the single-request queues (request-jobs.ts). */
  jobs: RequestJobs<R>;
  /** Email changes of profiles (PUT /contacts/{id}); undefined when off. */
  emails: EmailChanges<R> | undefined;
}

export interface AccountWiring<R> {
  opts: AccountOptions;
  budget: RateBudget;
  client: AcApi;
  outcomes: DeliveryOutcomes<R>;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** The ledger's say before sending (route, intents) and which refs still count; without it everything is imported. */
  gate: DeliveryGate<R> | undefined;
  random: Random;
  /** The loop's own entry points, which the parts call back. */
  wake(): void;
  add(update: ContactUpdate<R>): MergeOutcome;
}

/** Builds the parts of one account and connects them to each other and to the loop. */
export function composeAccount<R>(w: AccountWiring<R>): AccountParts<R> {
  const { opts, budget, outcomes, metrics, log, clock, gate, random } = w;
  const client = meteredApi(w.client, budget, clock);
  const { name, maxImportResubmits } = opts;
  const buffer = new ContactBuffer<R>(opts.limits);
  const confirms = new Confirmations<R>(opts, random);
  const reentries = new ReentryQueue<R>(() => clock.epoch(), opts.repeatUnsubscribeMovesUdate);
  const health = new AccountHealth(opts.maxBackoffMs, random);
  const late = new LateImports<R>();
  const flight: Flight = { requests: 0, sending: 0 };
  const bisectQueue: ContactEntry<R>[][] = [];
  const wake = () => w.wake();
  // What this service changed in ActiveCampaign (erasures, email changes): the member reads and what lookups
  // found of those contacts no longer answer for them.
  const contactsChanged = (emails?: readonly string[]) => {
    buffer.forgetFound(emails);
    lookups.changed(emails);
  };
  const deps = { name, client, clock, metrics, log, fx: () => fx, health, buffer, wake, contactsChanged };
  const untags = new UntagQueue<R>(opts.untagLists ?? new Set(), gate, deps);
  const erasures = new ErasureQueue<R>({ ...deps, outcomes });
  const lookups: LookupQueue<R> = new LookupQueue<R>({
    ...deps,
    outcomes,
    rules: opts.memberReads ?? defaultReadRules,
  });
  const fx: AccountEffects<R> = new AccountEffects<R>({
    name,
    maxImportResubmits,
    buffer,
    budget,
    confirms,
    reentries,
    late,
    untags,
    health,
    clock,
    outcomes,
    metrics,
    log,
  });
  const shared = { buffer, confirms, late, health, bisectQueue, clock, outcomes, metrics, log };
  const io = new AccountRequests<R>(
    { name, settleOnAccept: opts.settleOnAccept, client, gate, ...shared, wake },
    flight,
    fx,
  );
  const lookup = (entries: ContactEntry<R>[]) => {
    for (const entry of entries) lookups.push({ entry, notBefore: 0 });
    wake();
  };
  const imports = new ImportDispatch<R>({
    ...opts,
    ...shared,
    budget,
    gate,
    flight,
    fx,
    lookup,
    takePlain: (email, listId) => reentries.takePlain(email, listId),
    send: (batch, resubscribe) => io.send(batch, resubscribe),
  });
  const jobs = new RequestJobs<R>({
    budget,
    flight,
    maxConcurrentRequests: opts.maxConcurrentRequests,
    io,
    fx,
    reentries,
    queues: [untags, lookups, erasures],
  });
  const maxProfiles = opts.maxProfiles ?? 250_000;
  const emails =
    maxProfiles > 0
      ? new EmailChanges<R>({
          connection: name,
          budget,
          clock,
          client,
          outcomes,
          log,
          maxProfiles,
          contactsChanged,
          add: (u) => w.add(u),
          holds: (e) => buffer.holds(e),
          onIdle: wake,
          onResult: (result) => metrics.emailChanges.inc({ connection: name, result }),
          store: gate?.profiles,
          lookupsPerSecond: opts.profileLookupsPerSecond,
          onLookup: (result) => metrics.profileLookups.inc({ connection: name, result }),
        })
      : undefined;
  return {
    client,
    buffer,
    confirms,
    reentries,
    late,
    untags,
    health,
    fx,
    bisectQueue,
    lookups,
    flight,
    erasures,
    io,
    imports,
    jobs,
    emails,
  };
}
