import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AccountDelivery, type AccountOptions } from '../../src/deliver/account-delivery.js';
import { RateBudget } from '../../src/deliver/budget.js';
import { classifyResponse } from '../../src/deliver/classify.js';
import type { AcApi, Answer } from '../../src/deliver/client.js';
import { scaledClock } from '../../src/deliver/clock.js';
import type { MembersRequest } from '../../src/deliver/list-read.js';
import { defaultReadRules } from '../../src/deliver/member-reads.js';
import type { AppliedChange, DeliveryGate, DeliveryOutcomes } from '../../src/deliver/outcomes.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { updates } from '../buffer/updates.js';

/**
 * A member read is never answered from after what the service itself changed in ActiveCampaign (README "Lookup
 * cost"): the whole account loop, its erasures, email changes and rebalances, against a small fake account.
 * Each test first lets a read of list 1 finish, then changes a contact, then sends a remove it would answer.
 * Reproduced on the code before: an email change and a rebalance left a member subscribed (the remove settled
 * unsent), and an erasure made the remove's bulk import re-create the erased contact.
 */

const http = <T>(status: number, body?: unknown): Answer<T> => ({
  status,
  verdict: classifyResponse(status, body, undefined, Date.now()),
  body: body as T,
  latencyMs: 0,
});

/** Contacts by id with their lists (subscribed or not), as far as these tests need ActiveCampaign. */
class Account {
  private readonly contacts = new Map<number, { email: string; lists: Map<string, 'active' | 'unsubscribed'> }>();
  private nextId = 100;
  /** Contacts a bulk import created (an unsubscribe of a contact the account did not have). */
  created: string[] = [];
  pages = 0;

  contact(id: number, email: string, lists: string[]): void {
    this.contacts.set(id, { email, lists: new Map(lists.map((l) => [l, 'active'])) });
  }

  status(email: string, listId: string): string | undefined {
    return [...this.contacts.values()].find((c) => c.email === email)?.lists.get(listId);
  }

  private byEmail(
    email: string,
  ): [number, { email: string; lists: Map<string, 'active' | 'unsubscribed'> }] | undefined {
    return [...this.contacts].find(([, c]) => c.email === email);
  }

  readonly api = {
    bulkImport: async (body: string) => {
      for (const c of (
        JSON.parse(body) as {
          contacts: { email: string; subscribe?: { listid: number }[]; unsubscribe?: { listid: number }[] }[];
        }
      ).contacts) {
        let found = this.byEmail(c.email);
        if (!found) {
          this.created.push(c.email);
          this.contact(this.nextId++, c.email, []);
          found = this.byEmail(c.email)!;
        }
        for (const s of c.subscribe ?? []) found[1].lists.set(String(s.listid), 'active');
        for (const s of c.unsubscribe ?? []) found[1].lists.set(String(s.listid), 'unsubscribed');
      }
      return http(200, { success: 1, batchId: `b${this.nextId++}` });
    },
    importInfo: async () => http(200, { status: 'completed', success: [], failure: [] }),
    findContact: async (email: string) => {
      const found = this.byEmail(email);
      return http(200, { contacts: found ? [{ id: String(found[0]), email }] : [] });
    },
    listMembers: async (q: MembersRequest) => {
      this.pages++;
      let ids = [...this.contacts]
        .filter(([, c]) => c.lists.has(q.listId))
        .map(([id]) => id)
        .sort((a, b) => a - b);
      if (q.order === 'asc') ids = ids.filter((id) => id > q.afterId);
      else ids.reverse();
      return http(200, {
        contacts: ids.slice(0, q.limit).map((id) => ({ id: String(id), email: this.contacts.get(id)!.email })),
        meta: { total: String(ids.length) },
      });
    },
    deleteContact: async (id: string) =>
      this.contacts.delete(Number(id)) ? http(200, {}) : http(404, { message: 'No Result found' }),
    updateContactEmail: async (id: string, email: string) => {
      const c = this.contacts.get(Number(id));
      if (!c) return http(404, { message: 'No Result found' });
      c.email = email;
      return http(200, { contact: { id, email } });
    },
  };
}

const open: AccountDelivery<string>[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

function world() {
  const account = new Account();
  const settled: string[] = [];
  const unsent: AppliedChange<string>[] = [];
  const outcomes = {
    applied: (_c: string, changes: AppliedChange<string>[]) => {
      for (const c of changes) {
        settled.push(...c.refs);
        if (c.absent) unsent.push(c);
      }
    },
    erased: (_c: string, e: { ref: string }) => settled.push(e.ref),
    skipped: (refs: string[]) => settled.push(...refs),
    accepted: () => undefined,
    dead: (refs: string[], _s: string, code: string) => assert.fail(`dead-lettered ${code}: ${refs.join(', ')}`),
  } as unknown as DeliveryOutcomes<string>;
  // A fresh ledger: it knows no contact, so every remove of these tests is answered by a lookup or a read.
  const gate: DeliveryGate<string> = {
    route: () => ({ kind: 'import' }),
    intend: async () => undefined,
    live: () => true,
    knows: () => false,
  };
  const opts: AccountOptions = {
    name: 'main',
    limits: { maxContacts: 250, maxBytes: 399_999, lingerMs: 5 },
    maxUnconfirmed: 20,
    maxConcurrentRequests: 5,
    maxImportResubmits: 3,
    pollIntervalMs: 100,
    confirmTimeoutMs: 600_000,
    maxBackoffMs: 1_000,
    settleOnAccept: false,
    budgetShare: 1,
    reservedShare: 0,
    memberReads: { ...defaultReadRules, startAt: 3, saving: 1 },
  };
  const budget = new RateBudget({ requestsPerSecond: 1, importsPerMinute: 60, singleImportsPerMinute: 30 }, 10);
  const delivery = new AccountDelivery<string>(
    opts,
    budget,
    account.api as unknown as AcApi,
    outcomes,
    createMetrics(new Registry()),
    pino({ level: 'silent' }),
    scaledClock(100),
    gate,
  );
  open.push(delivery);
  const change = updates();
  let n = 0;
  /** A change that occurred long ago (a backfill): any read that begins now answers for it. */
  const event = (email: string, op: 'add' | 'remove', listId = '1') =>
    change(email, listId, op, 1_000 + ++n, `${email}/${listId}/${op}/${n}`);
  const remove = (email: string) => {
    const u = event(email, 'remove');
    delivery.add(u);
    return u.ref;
  };
  /** Removes of five strangers: a read of list 1 begins, and ends on its probe (a small list). */
  const readList = async () => {
    const refs = ['s1', 's2', 's3', 's4', 's5'].map((s) => remove(`${s}@example.com`));
    await until(() => refs.every((r) => settled.includes(r)), 'the strangers settle');
    await delivery.whenIdle();
    assert.equal(account.pages, 1, 'one read of list 1: its probe');
  };
  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 5_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  return { account, delivery, settled, unsent, event, remove, readList, until };
}

describe('member reads: nothing the service changed is answered from a read older than the change', () => {
  it("an email change: the renamed member's remove is looked up and sent, not settled unsent as a stranger", async () => {
    const w = world();
    w.account.contact(5, 'ann@example.com', ['1']);
    w.delivery.addFor('p1', w.event('ann@example.com', 'add', '2')); // the profile is seen with its old email
    await w.delivery.whenIdle();
    await w.readList();
    assert.equal(w.account.status('ann@example.com', '1'), 'active');
    // The profile's email changes (PUT /contacts/5) and its remove from list 1 is held until then.
    const gone = w.event('bob@example.com', 'remove');
    w.delivery.addFor('p1', gone);
    await w.until(() => w.settled.includes(gone.ref), 'the remove of the new email settles');
    await w.delivery.whenIdle();
    assert.equal(
      w.account.status('bob@example.com', '1'),
      'unsubscribed',
      'the read did not know bob: a lookup found the contact',
    );
    assert.equal(w.unsent.filter((c) => c.email === 'bob@example.com').length, 0);
    assert.deepEqual(w.account.created, []);
  });

  it('an erasure: a later remove of the erased person creates no contact', async () => {
    const w = world();
    w.account.contact(5, 'ann@example.com', ['1']);
    await w.readList();
    w.delivery.erase('ann@example.com', 1_500, 'erasure');
    await w.until(() => w.settled.includes('erasure'), 'the erasure is done');
    const ref = w.remove('ann@example.com');
    await w.until(() => w.settled.includes(ref), 'the remove settles');
    await w.delivery.whenIdle();
    assert.deepEqual(w.account.created, [], 'the read still held ann: its "found" would have re-created the contact');
    assert.equal(
      w.unsent.filter((c) => c.email === 'ann@example.com').length,
      1,
      'settled unsent: nothing to unsubscribe',
    );
  });

  it('a rebalance: a member added since the read (by another member of the group) is looked up and unsubscribed', async () => {
    const w = world();
    await w.readList();
    w.account.contact(9, 'carl@example.com', ['1']); // another member's import landed after the read passed
    w.delivery.dropRevoked(() => false);
    const ref = w.remove('carl@example.com');
    await w.until(() => w.settled.includes(ref), 'the remove settles');
    await w.delivery.whenIdle();
    assert.equal(
      w.account.status('carl@example.com', '1'),
      'unsubscribed',
      'the read predates the rebalance: a lookup answered',
    );
  });
});
