import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { applyUpdate, newEntry, type ContactEntry } from '../../src/buffer/contact-entry.js';
import { classifyResponse } from '../../src/deliver/classify.js';
import type { AcApi, Answer, ContactsPage } from '../../src/deliver/client.js';
import { clockOf } from '../../src/deliver/clock.js';
import { LookupQueue } from '../../src/deliver/lookup-queue.js';
import type { MembersRequest } from '../../src/deliver/list-read.js';
import type { ReadRules } from '../../src/deliver/member-reads.js';
import type { AppliedChange } from '../../src/deliver/outcomes.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { updates } from '../buffer/updates.js';

const change = updates();
const NOW = Date.parse('2026-12-01T12:00:00Z');
const OLD = NOW - 86_400_000;

function http<T>(status: number, body?: unknown): Answer<T> {
  return {
    status,
    verdict: classifyResponse(status, body, status === 429 ? '1' : undefined, Date.now()),
    body: body as T | undefined,
    latencyMs: 0,
  };
}

/** An account with contacts (id → email) and one list's members; GET /contacts as the simulator answers it. */
class Account {
  readonly byEmail = new Map<string, string>();
  readonly members = new Map<string, Set<number>>();
  lookups = 0;
  pages = 0;
  /** Answers for the next page requests, before the real one (e.g. 429, 403); a body: a 200 with that body. */
  readonly pageFaults: (number | { body: unknown })[] = [];

  contact(id: number, email: string, lists: string[] = []): void {
    this.byEmail.set(email, String(id));
    for (const l of lists) this.members.set(l, new Set([...(this.members.get(l) ?? []), id]));
  }

  async findContact(email: string): Promise<Answer<unknown>> {
    this.lookups++;
    const id = this.byEmail.get(email);
    return http(200, { contacts: id ? [{ id, email }] : [], meta: { total: id ? '1' : '0' } });
  }

  async listMembers(q: MembersRequest): Promise<Answer<ContactsPage>> {
    this.pages++;
    const fault = this.pageFaults.shift();
    if (typeof fault === 'object') return http(200, fault.body);
    if (fault) return http(fault, fault === 429 ? undefined : { message: 'No Result found' });
    const emailOf = new Map([...this.byEmail].map(([e, id]) => [Number(id), e]));
    let ids = [...(this.members.get(q.listId) ?? [])].sort((a, b) => a - b);
    if (q.order === 'asc') ids = ids.filter((id) => id > q.afterId);
    else ids.reverse();
    const contacts = ids.slice(0, q.limit).map((id) => ({ id: String(id), email: emailOf.get(id)! }));
    return http(200, { contacts, meta: { total: String(ids.length) } });
  }
}

function world(rules: Partial<ReadRules> = {}, perDispatch = 2, reads = true) {
  let t = 0;
  const clock = { ...clockOf(() => t), epoch: () => NOW + t };
  const account = new Account();
  const applied: AppliedChange<string>[] = [];
  const requeued: ContactEntry<string>[] = [];
  const released: string[] = [];
  const dead: string[] = [];
  const flight = { requests: 0 };
  const metrics = createMetrics(new Registry());
  const q = new LookupQueue<string>({
    name: 'main',
    client: (reads ? account : { findContact: (e: string) => account.findContact(e) }) as unknown as AcApi,
    clock,
    metrics,
    log: pino({ level: 'silent' }),
    outcomes: { applied: (_c: string, changes: AppliedChange<string>[]) => applied.push(...changes) } as never,
    buffer: { requeue: (es) => requeued.push(...es), release: (emails) => released.push(...emails) },
    fx: () => ({
      waited: (_v, now) => now + 1_000,
      sending: () => 0,
      up: () => undefined,
      dead: (es) => dead.push(...es.map((e) => e.email)),
    }),
    wake: () => undefined,
    rules: {
      startAt: 50,
      maxMembers: 100_000,
      skewMs: 5_000,
      retainMs: 600_000,
      saving: 4,
      waitMs: 600_000,
      pageWaitMs: 1_000,
      ...rules,
    },
  });
  const remove = (email: string, listId = '1', at = OLD) => {
    const e = newEntry<string>(email, 0);
    applyUpdate(e, change(email, listId, 'remove', at, `${email}/${listId}`));
    q.push({ entry: e, notBefore: 0 });
    return e;
  };
  /** Dispatches with `perDispatch` request slots each time (the budget), the clock 250 ms on, until nothing waits. */
  const run = async () => {
    for (let i = 0; i < 10_000 && q.length > 0; i++) {
      let slots = perDispatch;
      q.dispatch(t, () => (slots-- > 0 ? true : t + 250), flight);
      for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
      t += 250;
    }
    assert.equal(q.length, 0, 'everything answered');
  };
  return { account, q, remove, run, applied, requeued, released, dead, at: () => t, metrics };
}

describe('LookupQueue: unknown removes answered by lookups or one member read', () => {
  it('a few unknown removes: one lookup each, as before, and no read', async () => {
    const w = world();
    w.account.contact(7, 'known@example.com', ['1']);
    for (let i = 0; i < 10; i++) w.remove(`stranger${i}@example.com`);
    w.remove('known@example.com');
    await w.run();
    assert.equal(w.account.lookups, 11);
    assert.equal(w.account.pages, 0);
    assert.deepEqual(
      w.requeued.map((e) => e.email),
      ['known@example.com'],
    );
    assert.ok(w.requeued[0]!.inAccount);
    assert.equal(w.applied.length, 10);
    assert.ok(w.applied.every((a) => a.absent && a.op === 'remove'));
  });

  it('many unknown removes on one list: a probe and its pages answer nearly all of them, members go by import', async () => {
    const w = world();
    for (let id = 1; id <= 450; id++) w.account.contact(id, `member${id}@example.com`, ['1']);
    w.account.contact(900, 'elsewhere@example.com', ['2']); // a contact, not on list 1: nothing to remove there
    const emails = [
      ...Array.from({ length: 400 }, (_, i) => `stranger${i}@example.com`),
      ...Array.from({ length: 100 }, (_, i) => `member${i * 4 + 1}@example.com`),
      'elsewhere@example.com',
    ];
    for (const e of emails) w.remove(e);
    await w.run();
    const requests = w.account.lookups + w.account.pages;
    assert.ok(w.account.pages === 5, `one probe and four pages (${w.account.pages})`);
    assert.ok(requests < 30, `${requests} requests for ${emails.length} removes`);
    assert.equal(w.requeued.length, 100, 'every member found');
    assert.ok(w.requeued.every((e) => e.email.startsWith('member') && e.inAccount));
    assert.equal(w.applied.length, 401, 'the strangers and the contact not on the list settle unsent');
    assert.deepEqual(new Set(w.released), new Set(emails.filter((e) => !e.startsWith('member'))));
  });

  it('a remove too close to the read is looked up, not answered by it', async () => {
    const w = world();
    for (let i = 0; i < 60; i++) w.remove(`old${i}@example.com`);
    w.account.contact(5, 'fresh@example.com', []);
    w.remove('fresh@example.com', '1', NOW); // occurred as the read began: a form may have added them since
    await w.run();
    assert.equal(w.account.pages, 1, 'an empty list: the probe is the whole read');
    assert.deepEqual(
      w.requeued.map((e) => e.email),
      ['fresh@example.com'],
      'found by its own lookup',
    );
    assert.ok(w.account.lookups < 10, `${w.account.lookups} lookups`);
  });

  it('a read refused halfway gives its removes back to lookups; a 429 on a page waits and asks the same page again', async () => {
    const w = world({}, 3);
    for (let id = 1; id <= 250; id++) w.account.contact(id, `member${id}@example.com`, ['1']);
    for (let i = 0; i < 300; i++) w.remove(`stranger${i}@example.com`);
    w.account.pageFaults.push(0, 429, 404); // the probe goes; a 429 on the next page, then a refusal
    await w.run();
    assert.equal(w.applied.length, 300, 'every remove answered');
    assert.equal(w.dead.length, 0);
    assert.equal(w.account.pages, 3);
    assert.ok(w.account.lookups >= 290, 'the removes went back to lookups');

    const v = world({}, 3);
    for (let id = 1; id <= 250; id++) v.account.contact(id, `member${id}@example.com`, ['1']);
    for (let i = 0; i < 300; i++) v.remove(`stranger${i}@example.com`);
    v.account.pageFaults.push(0, 429);
    await v.run();
    assert.equal(v.applied.length, 300);
    assert.equal(v.account.pages, 4, 'probe, 429, the same page again, the last');
  });

  it('startAt 0, or a client without member reads: lookups only', async () => {
    for (const w of [world({ startAt: 0 }), world({}, 2, false)]) {
      for (let i = 0; i < 120; i++) w.remove(`stranger${i}@example.com`);
      assert.equal(
        w.q.dispatch(0, () => 99_999, { requests: 0 }),
        99_999,
        'no review to wait for: the loop looks again when the budget allows',
      );
      await w.run();
      assert.equal(w.account.pages, 0);
      assert.equal(w.account.lookups, 120);
    }
  });

  // Review of the member reads (issue 15): a malformed page rejected unhandled, and the read stayed in place.
  it('a malformed members page ends the read as failed: its removes are looked up, and nothing rejects unhandled', async () => {
    const rejections: unknown[] = [];
    const onRejection = (err: unknown) => rejections.push(err);
    process.on('unhandledRejection', onRejection);
    try {
      for (const body of [
        { contacts: [{ id: '3' }], meta: { total: '1' } },
        { contacts: { id: '3' } },
        'Service Unavailable',
      ]) {
        const w = world();
        for (let i = 0; i < 60; i++) w.remove(`stranger${i}@example.com`);
        w.account.pageFaults.push({ body });
        await w.run();
        assert.equal(w.account.pages, 1, `${JSON.stringify(body)}: the probe is not asked again`);
        assert.equal(w.account.lookups, 60, 'every remove looked up');
        assert.equal(w.applied.length, 60);
        const failed = (await w.metrics.memberReads.get()).values.find((v) => v.labels.result === 'failed')?.value;
        assert.equal(failed, 1);
      }
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(rejections, []);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  // Review of the member reads (issue 15): removes parked behind a read that never ends waited for ever.
  it('a read that does not end by its deadline fails: the removes parked on it are looked up', async () => {
    const w = world({ waitMs: 10_000, pageWaitMs: 1_000 }, 3);
    for (let id = 1; id <= 250; id++) w.account.contact(id, `member${id}@example.com`, ['1']);
    for (let i = 0; i < 300; i++) w.remove(`stranger${i}@example.com`);
    w.account.pageFaults.push(0, ...Array<number>(1_000).fill(429)); // the probe goes; every page after it is told to wait
    await w.run();
    assert.equal(w.applied.length, 300, 'every remove answered');
    assert.ok(w.account.lookups >= 290, `${w.account.lookups} lookups after the read failed`);
    // Probe at t=0, reading from about t=0.5 s: deadline 10 s + 2 pages × 1 s; one page asked a second meanwhile.
    assert.ok(w.at() >= 12_000 && w.at() < 60_000, `answered at ${w.at()} ms`);
    assert.ok(w.account.pages <= 15, `${w.account.pages} page requests`);
  });
});
