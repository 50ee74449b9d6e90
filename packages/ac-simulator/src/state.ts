import { emailProblem } from './email.js';
import { applyImport } from './apply-import.js';
import { applyPersonChange, type PersonChange } from './person.js';
import { sendUnsubscribeWebhook } from './webhook-sender.js';
import type { ImportContact } from './bulk-import.js';
import { formatSeconds } from './http.js';
import { ImportQueue, type ImportCounts, type ImportOutcome, type ImportPlan, type Timeline } from './import-queue.js';
import { drawLatency, seededRandom } from './latency.js';
import { applyPatch, type SimulatorOptions } from './options.js';
import type { ImportWindowReport } from './import-limits.js';
import { AccountLimiter, type LimiterSettings } from './rate-limit.js';
import { Store, type MemberView, type MembershipStatus } from './store.js';

/**
 * One simulated account: options, data, limits, imports and counters, without HTTP. The server routes requests
 * to it; index.ts exposes it as the Simulator.
 */
export interface SimulatorCounters {
  /** Every /api/3 request, whatever the answer. */
  requests: number;
  /** By route template, e.g. "POST /import/bulk_import", "GET /lists/{id}". */
  byEndpoint: Record<string, number>;
  /** By HTTP status, e.g. "200", "429". */
  byStatus: Record<string, number>;
  rateLimited429: number;
  bulkRateLimited400: number;
  /** Over-limit requests sent after the client had been told (see rate-limit.ts). */
  violations: number;
  /** Over-limit requests, told or not. */
  overLimitTotal: number;
  /** Every 60 s (scaled) window of bulk import requests checked against 100 in all and 20 single-contact. */
  importWindows: ImportWindowReport;
  /** contactLists status 1 on a membership the person had opted out of (status 2 by 'person', 'form' or 'seed'). */
  forcedResubscribes: number;
  importsAccepted: number;
  /** Contacts in accepted imports (queued_contacts summed). */
  contactsImported: number;
  /** Contacts applied by finished imports (their `success`). */
  contactsApplied: number;
  /** Contacts finished imports refused (their `failure`: e.g. a subscribe of an unsubscribed membership). */
  contactsRefused: number;
  maxContactsInImport: number;
  unavailable503: number;
  /** DELETE /contacts/{id} answered 200. */
  contactsDeleted: number;
  /** Unsubscribe webhooks posted to options.unsubscribeWebhookUrl and answered 2xx, or not (webhook-sender.ts). */
  webhooksSent: number;
  webhooksFailed: number;
  /** Contacts the simulator created, by the request that created them (see ContactsCreated). */
  contactsCreated: ContactsCreated;
}

/**
 * `byApi` sums the kinds created through /api/3 (the client's requests): a bulk import contact with a subscribe,
 * with only unsubscribes, or with neither, POST /contact/sync and POST /contacts. `person` (POST /__sim/membership)
 * and `seed` are the test's own and not in `byApi`.
 */
export interface ContactsCreated {
  byApi: number;
  bulkSubscribe: number;
  bulkUnsubscribeOnly: number;
  bulkNoLists: number;
  sync: number;
  create: number;
  person: number;
  seed: number;
}

export type CreationKind = Exclude<keyof ContactsCreated, 'byApi'>;

export interface SimulatorSnapshot {
  /** Per list, per (normalised) email: status, sdate, udate and who made the last change. */
  lists: Record<string, { name: string; members: Record<string, MemberView> }>;
  contacts: number;
  /** Tag names per (normalised) email, sorted; only contacts with at least one tag. */
  tags: Record<string, string[]>;
  counters: SimulatorCounters;
  imports: ImportCounts;
}

export interface SeedContact {
  email: string;
  firstName?: string;
  lastName?: string;
  /** listId → status 0–3; status 2 here means the contact opted out themselves (changedBy 'seed'). */
  lists?: Record<string, MembershipStatus>;
}

type OwnCounters = Omit<SimulatorCounters, 'violations' | 'overLimitTotal' | 'importWindows'>;

function freshCounters(): OwnCounters {
  return {
    requests: 0,
    byEndpoint: {},
    byStatus: {},
    rateLimited429: 0,
    bulkRateLimited400: 0,
    forcedResubscribes: 0,
    importsAccepted: 0,
    contactsImported: 0,
    contactsApplied: 0,
    contactsRefused: 0,
    maxContactsInImport: 0,
    unavailable503: 0,
    contactsDeleted: 0,
    webhooksSent: 0,
    webhooksFailed: 0,
    contactsCreated: {
      byApi: 0,
      bulkSubscribe: 0,
      bulkUnsubscribeOnly: 0,
      bulkNoLists: 0,
      sync: 0,
      create: 0,
      person: 0,
      seed: 0,
    },
  };
}

export class SimState {
  readonly store: Store;
  readonly imports: ImportQueue;
  limiter: AccountLimiter;
  counters: OwnCounters = freshCounters();
  /** Draws for importLatency and stuckImports.share, from options.seed. */
  private importRandom: () => number;
  /** Base of the links inside resources, e.g. http://127.0.0.1:5000/api/3; set once the server listens. */
  apiUrl = '/api/3';

  constructor(
    public options: SimulatorOptions,
    readonly clock: () => number = () => performance.now(),
    readonly random: () => number = Math.random,
    wallClock: () => Date = () => new Date(),
  ) {
    this.store = new Store(wallClock);
    this.store.setLists(options.lists);
    this.store.setFields(options.fields);
    this.imports = new ImportQueue(clock, (contacts) => this.finishImport(contacts));
    this.limiter = new AccountLimiter(this.limiterSettings(), clock());
    this.importRandom = seededRandom(options.seed);
  }

  /** A duration of the real API, in simulated milliseconds. */
  scaled(ms: number): number {
    return ms / this.options.timeScale;
  }

  /** The Retry-After a 429 announces, rounded as the header shows it. */
  retryAfterMs(): number {
    return Number(formatSeconds(this.scaled(this.options.limits.retryAfterSeconds * 1000))) * 1000;
  }

  /**
   * How the next accepted import will go: the configured delays plus a draw of importLatency, its fate
   * (failImports), and whether it gets stuck (stuckImports.next counts down first, then stuckImports.share).
   */
  planImport(): ImportPlan {
    const o = this.options;
    const d = o.importDelaysMs;
    const extra = drawLatency(o.importLatency, this.importRandom);
    const timeline: Timeline = {
      statusFalse: this.scaled(d.statusFalse),
      waiting: this.scaled(d.waiting),
      claimed: this.scaled(d.claimed),
      active: this.scaled(d.active + extra),
    };
    let stuck: ImportPlan['stuck'];
    if (o.stuckImports.next > 0) {
      stuck = o.stuckImports.status;
      this.options = { ...o, stuckImports: { ...o.stuckImports, next: o.stuckImports.next - 1 } };
    } else if (o.stuckImports.share > 0 && this.importRandom() < o.stuckImports.share) {
      stuck = o.stuckImports.status;
    }
    return {
      timeline,
      fate: o.failImports === 'none' ? 'completed' : o.failImports,
      stuck,
      inOrder: o.importsFinishInOrder,
    };
  }

  limiterSettings(): LimiterSettings {
    const { limits, timeScale } = this.options;
    return {
      enabled: limits.enabled,
      burst: limits.burst,
      requestsPerSecond: limits.requestsPerSecond * timeScale,
      bulkMultiPerWindow: limits.bulkMultiPerMinute,
      bulkSinglePerWindow: limits.bulkSinglePerMinute,
      windowMs: this.scaled(60_000),
      importLimiter: this.options.importLimiter,
      importLimitScope: this.options.importLimitScope,
      retryAfterMs: this.retryAfterMs(),
      toleranceMs: limits.toleranceMs,
      deliveryDelayMs: this.scaled(this.options.latencyMs),
    };
  }

  /** Throws an Error naming the bad keys; nothing changes then. */
  configure(patch: unknown): void {
    this.options = applyPatch(this.options, patch);
    const p = patch as Partial<SimulatorOptions>;
    if (p.seed !== undefined) this.importRandom = seededRandom(this.options.seed);
    if (p.lists) this.store.setLists(this.options.lists);
    if (p.fields) this.store.setFields(this.options.fields);
    this.limiter.configure(this.limiterSettings(), this.clock());
  }

  /** Forget contacts, memberships, imports, counters and limiter state; seeded lists and fields stay. */
  reset(): void {
    this.store.clearContacts();
    this.imports.clear();
    this.counters = freshCounters();
    this.limiter = new AccountLimiter(this.limiterSettings(), this.clock());
    this.importRandom = seededRandom(this.options.seed);
  }

  seedContact(seed: SeedContact): string {
    const problem = typeof seed.email === 'string' ? emailProblem(seed.email.trim()) : 'email is missing';
    if (problem !== undefined) throw new Error(`Cannot seed contact: ${problem}`);
    const lists = Object.entries(seed.lists ?? {});
    for (const [listId, status] of lists) {
      if (!this.store.lists.has(listId)) throw new Error(`Cannot seed contact: list ${listId} does not exist`);
      if (![0, 1, 2, 3].includes(status))
        throw new Error(`Cannot seed contact: status ${String(status)} for list ${listId} is not 0, 1, 2 or 3`);
    }
    const { contact, created } = this.store.upsertContact({
      email: seed.email,
      firstName: seed.firstName,
      lastName: seed.lastName,
    });
    if (created) this.countCreated('seed');
    for (const [listId, status] of lists) this.store.setMembership(contact.id, listId, status, { by: 'seed' });
    return contact.id;
  }

  countCreated(kind: CreationKind): void {
    const c = this.counters.contactsCreated;
    c[kind]++;
    if (kind !== 'person' && kind !== 'seed') c.byApi++;
  }

  /** A person's own subscribe (form) or unsubscribe; throws an Error saying what is wrong with `change`. */
  personChange(change: unknown): PersonChange {
    this.imports.settle();
    const done = applyPersonChange(this.store, change, () => this.countCreated('person'));
    const url = this.options.unsubscribeWebhookUrl;
    const contact = this.store.contacts.get(done.contact);
    if (url && done.status === 2 && done.by === 'person' && contact) {
      // Sent after the answer, as AC's webhooks are: the membership has changed whatever the receiver says.
      const counters = this.counters;
      void sendUnsubscribeWebhook(url, {
        contactId: done.contact,
        email: contact.email,
        listId: done.list,
        at: Date.now(),
        source: 'public',
      }).then((ok) => {
        if (ok) counters.webhooksSent++;
        else counters.webhooksFailed++;
      });
    }
    return { contact: done.contact, list: done.list, status: done.status };
  }

  snapshot(): SimulatorSnapshot {
    this.imports.settle();
    const lists: SimulatorSnapshot['lists'] = {};
    for (const l of this.store.lists.values()) lists[l.id] = { name: l.name, members: this.store.membersOf(l.id) };
    const counters: SimulatorCounters = {
      ...structuredClone(this.counters),
      violations: this.limiter.violations,
      overLimitTotal: this.limiter.overLimitTotal,
      importWindows: this.limiter.importWindows(),
    };
    const tags: SimulatorSnapshot['tags'] = {};
    for (const c of this.store.contacts.values()) {
      const names = this.store.tagging.namesOf(c.id);
      if (names.length > 0) tags[c.email] = names;
    }
    return { lists, contacts: this.store.contacts.size, tags, counters, imports: this.imports.counts() };
  }

  private finishImport(contacts: ImportContact[]): ImportOutcome {
    const outcome = applyImport(this.store, contacts, this.options, (kind) => this.countCreated(kind));
    this.counters.contactsApplied += outcome.success.length;
    this.counters.contactsRefused += outcome.failure.length;
    return outcome;
  }
}
