import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { BufferLimits } from '../../src/buffer/contact-buffer.js';
import { AccountDelivery, type AccountOptions } from '../../src/deliver/account-delivery.js';
import type { AppliedChange, DeliveryGate, DeliveryOutcomes } from '../../src/deliver/outcomes.js';
import { RateBudget, type BudgetRates } from '../../src/deliver/budget.js';
import { classifyResponse, classifyTransportError } from '../../src/deliver/classify.js';
import { clockOf, scaledClock, type Clock } from '../../src/deliver/clock.js';
import type {
  AcApi,
  Answer,
  BulkImportAccepted,
  ContactsFound,
  ContactTags,
  ImportInfo,
  Memberships,
  TagsFound,
} from '../../src/deliver/client.js';
import type { Stage } from '../../src/domain/errors.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { WindowBucket } from '../../packages/ac-simulator/src/import-limits.js';
import { updates } from '../buffer/updates.js';

/**
 * AccountDelivery against a scripted fake of the ActiveCampaign API. Timers are real, so every wait is short:
 * the budget runs 1000× faster than the account's real rates and delivery's own waits (first poll, poll backoff,
 * outage backoff) 100× faster. Where the exact instant matters, a manual clock drives the scheduler instead.
 */

// ---------------------------------------------------------------------------------------------------------------
// The fake account

interface SentContact {
  email: string;
  subscribe?: { listid: number }[];
  unsubscribe?: { listid: number }[];
}

interface Request {
  kind: 'bulk' | 'info' | 'contact';
  /** When the request was made, on the delivery's clock. */
  at: number;
  /** When its answer was handed back (on the same clock); undefined while it is pending. */
  answeredAt?: number;
  contacts: SentContact[];
  batchId?: string;
  /** Imports accepted and not yet answered with a final status when this request came in. */
  outstanding: number;
}

type Reply<T> = Answer<T> | Promise<Answer<T>>;

/** An HTTP answer, classified exactly as the real client classifies it. */
function http<T>(status: number, body?: unknown, retryAfter?: string): Answer<T> {
  return {
    status,
    verdict: classifyResponse(status, body, retryAfter, Date.now()),
    body: body as T | undefined,
    latencyMs: 0,
  };
}

/** No answer at all (connection reset, timeout), classified as the real client does. */
function noAnswer<T>(code: string, message: string): Answer<T> {
  return {
    status: 0,
    verdict: classifyTransportError(Object.assign(new Error(message), { code })),
    body: undefined,
    latencyMs: 0,
  };
}

const completed = (failure: string[] = []) => http<ImportInfo>(200, { status: 'completed', success: [], failure });
const status = (s: string | false) => http<ImportInfo>(200, { status: s });

class FakeAc implements AcApi {
  readonly requests: Request[] = [];
  /** Emails that validation refuses wherever they stand in a request, named by index in `indexBase`. */
  readonly refused = new Set<string>();
  indexBase: 0 | 1 = 0;
  /** A scripted answer to the n-th bulk import (1-based); undefined falls through to validation and acceptance. */
  bulk: (contacts: SentContact[], n: number) => Reply<BulkImportAccepted> | undefined = () => undefined;
  /** The answer to the n-th poll (1-based) of a batch. */
  info: (batchId: string, n: number) => Reply<ImportInfo> = () => completed();
  /** Every accepted batch's contacts. */
  readonly batches = new Map<string, SentContact[]>();
  private readonly open = new Set<string>();
  private readonly polls = new Map<string, number>();

  constructor(private readonly clock: () => number) {}

  async deleteContact(): Promise<Answer<unknown>> {
    return http<unknown>(200, {});
  }

  async bulkImport(body: string): Promise<Answer<BulkImportAccepted>> {
    const contacts = (JSON.parse(body) as { contacts: SentContact[] }).contacts;
    const req = this.record({ kind: 'bulk', contacts });
    const answer = await (this.bulk(contacts, this.bulks().length) ?? this.validate(contacts));
    if (answer.verdict.kind === 'ok' && answer.body?.batchId) {
      this.batches.set(answer.body.batchId, contacts);
      this.open.add(answer.body.batchId);
    }
    req.answeredAt = this.clock();
    return answer;
  }

  async importInfo(batchId: string): Promise<Answer<ImportInfo>> {
    const req = this.record({ kind: 'info', contacts: [], batchId });
    const n = (this.polls.get(batchId) ?? 0) + 1;
    this.polls.set(batchId, n);
    const answer = await this.info(batchId, n);
    const s = answer.body?.status;
    if (answer.status === 404 || s === 'completed' || s === 'failed' || s === 'interrupted') this.open.delete(batchId);
    req.answeredAt = this.clock();
    return answer;
  }

  /** Contacts the account has, by email, with their memberships; any other contact is unknown. */
  readonly known = new Map<string, { id: string; lists: { list: string; status: string; udate?: string }[] }>();

  /** The re-entry calls (contact lookup, memberships, contactLists): recorded, answered from `known`. */
  async findContact(email: string): Promise<Answer<ContactsFound>> {
    this.record({ kind: 'contact', contacts: [] }).answeredAt = this.clock();
    const c = this.known.get(email);
    return http(200, { contacts: c ? [{ id: c.id, email }] : [] });
  }

  async memberships(id: string): Promise<Answer<Memberships>> {
    this.record({ kind: 'contact', contacts: [] }).answeredAt = this.clock();
    return http(200, { contactLists: [...this.known.values()].find((c) => c.id === id)?.lists ?? [] });
  }

  async setListStatus(): Promise<Answer<unknown>> {
    this.record({ kind: 'contact', contacts: [] }).answeredAt = this.clock();
    return http(200, {});
  }

  /** Tag name → id in the account, and each contact's tags (contact id → association id → tag id). */
  readonly tagIds = new Map<string, string>();
  readonly tagsOf = new Map<string, Map<string, string>>();

  async contactTags(id: string): Promise<Answer<ContactTags>> {
    this.record({ kind: 'contact', contacts: [] }).answeredAt = this.clock();
    return http(200, {
      contactTags: [...(this.tagsOf.get(id) ?? new Map<string, string>())].map(([ct, tag]) => ({ id: ct, tag })),
    });
  }

  async findTags(name: string): Promise<Answer<TagsFound>> {
    this.record({ kind: 'contact', contacts: [] }).answeredAt = this.clock();
    return http(200, { tags: [...this.tagIds].filter(([n]) => n.includes(name)).map(([tag, id]) => ({ id, tag })) });
  }

  async removeContactTag(ct: string): Promise<Answer<unknown>> {
    this.record({ kind: 'contact', contacts: [] }).answeredAt = this.clock();
    for (const held of this.tagsOf.values()) if (held.delete(ct)) return http(200, {});
    return http(404, { message: `No Result found for SubscriberTag with id ${ct}` });
  }

  async getList(id: string): Promise<Answer<{ list?: { id: string; name: string } }>> {
    return http(200, { list: { id, name: `list ${id}` } });
  }

  async fields(): Promise<
    Answer<{ fields?: { id: string; perstag: string; title: string }[]; meta?: { total?: string } }>
  > {
    return http(200, { fields: [], meta: { total: '0' } });
  }

  async close(): Promise<void> {}

  bulks(): Request[] {
    return this.requests.filter((r) => r.kind === 'bulk');
  }

  infos(): Request[] {
    return this.requests.filter((r) => r.kind === 'info');
  }

  /** The default bulk answer: the validation 400 if a refused email is present, else accepted with a new batchId. */
  private validate(contacts: SentContact[]): Answer<BulkImportAccepted> {
    const failureReasons = contacts.flatMap((c, i) =>
      this.refused.has(c.email) ? [{ contact: i + this.indexBase, failureReason: `refused: ${c.email}` }] : [],
    );
    if (failureReasons.length)
      return http(400, { success: 0, message: 'JSON payload did not pass validation.', failureReasons });
    return http(200, { success: 1, queued_contacts: contacts.length, batchId: `batch-${this.batches.size + 1}` });
  }

  private record(r: Pick<Request, 'kind' | 'contacts' | 'batchId'>): Request {
    const req: Request = { ...r, at: this.clock(), outstanding: this.open.size };
    this.requests.push(req);
    return req;
  }
}

const emailsOf = (r: Request | undefined) => (r?.contacts ?? []).map((c) => c.email);

// ---------------------------------------------------------------------------------------------------------------
// Settlement, set-up and waiting

interface DeadLetter {
  ref: string;
  stage: Stage;
  code: string;
  message: string;
}

/** The outcome sink, as data: what settled (confirmed, superseded, skipped) and what was dead-lettered. */
class Recorder implements DeliveryOutcomes<string> {
  readonly settled: string[] = [];
  readonly deadLetters: DeadLetter[] = [];
  readonly acceptedRefs: string[] = [];
  readonly applied_: AppliedChange<string>[] = [];
  /** Settled at acceptance (settleOnAccept): their confirmation records them only (the settler ends a share once). */
  private readonly early = new Set<string>();

  settle(refs: string[]): void {
    this.settled.push(...refs);
  }

  applied(_connection: string, changes: AppliedChange<string>[]): void {
    for (const c of changes) {
      this.applied_.push(c);
      if (c.refused) this.deadLetter(c.refs, 'confirm', c.refused.code, c.refused.message);
      else this.settle(c.refs.filter((r) => !this.early.has(r)));
    }
  }

  skipped(refs: string[]): void {
    this.settle(refs);
  }

  erased(_connection: string, e: { ref: string }): void {
    this.settle([e.ref]);
  }

  dead(refs: string[], stage: Stage, code: string, message: string): void {
    this.deadLetter(refs, stage, code, message);
  }

  deadLetter(refs: string[], stage: Stage, code: string, message: string): void {
    for (const ref of refs) this.deadLetters.push({ ref, stage, code, message });
  }

  accepted(refs: string[], _at: number, settle: boolean): void {
    this.acceptedRefs.push(...refs);
    if (settle) {
      for (const r of refs) this.early.add(r);
      this.settle(refs);
    }
  }

  /** Every ref in `refs` settled exactly once. */
  settledOnce(refs: readonly string[]): boolean {
    return refs.every((r) => this.settled.filter((s) => s === r).length === 1);
  }
}

/** With the budget's timeScale of 1000: 1,000 requests/s, 1,000 imports/s, 500 single-contact imports/s. */
const QUICK: BudgetRates = { requestsPerSecond: 1, importsPerMinute: 60, singleImportsPerMinute: 30 };

interface SetupOptions {
  opts?: Partial<AccountOptions>;
  limits?: Partial<BufferLimits>;
  rates?: BudgetRates;
  budgetScale?: number;
  /** A manual clock (its own time, real timers); by default delivery's waits run 100× faster than real. */
  clock?: () => number;
  gate?: DeliveryGate<string>;
}

const open: AccountDelivery<string>[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

function setup(s: SetupOptions = {}) {
  const scheduler: Clock = s.clock ? clockOf(s.clock) : scaledClock(100);
  const clock = () => scheduler.now();
  const api = new FakeAc(clock);
  const sink = new Recorder();
  const metrics = createMetrics(new Registry());
  // The budget runs on the scheduler's clock: 10 × 100 = 1000× faster than real unless a manual clock drives it.
  const budget = new RateBudget(s.rates ?? QUICK, s.budgetScale ?? (s.clock ? 1_000 : 10));
  const opts: AccountOptions = {
    name: 'main',
    limits: { maxContacts: 250, maxBytes: 399_999, lingerMs: 5, ...s.limits },
    maxUnconfirmed: 20,
    maxConcurrentRequests: 5,
    maxImportResubmits: 3,
    pollIntervalMs: 100,
    confirmTimeoutMs: 600_000,
    maxBackoffMs: 1_000,
    settleOnAccept: false,
    budgetShare: 1,
    reservedShare: 0,
    ...s.opts,
  };
  const delivery = new AccountDelivery<string>(
    opts,
    budget,
    api,
    sink,
    metrics,
    pino({ level: 'silent' }),
    scheduler,
    s.gate,
  );
  open.push(delivery);
  const change = updates();
  let occurred = 1_000;
  /** Buffers one change; returns its ref. Later calls are newer unless `at` says otherwise. */
  const add = (
    email: string,
    o: { list?: string; op?: 'add' | 'remove'; ref?: string; at?: number; tags?: string[] } = {},
  ): string => {
    const list = o.list ?? '1';
    const ref = o.ref ?? `${email}/${list}/${o.op ?? 'add'}`;
    delivery.add(change(email, list, o.op ?? 'add', o.at ?? ++occurred, ref, o.tags ? { tags: o.tags } : {}));
    return ref;
  };
  return { api, sink, metrics, budget, delivery, add };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** One turn of the event loop: a tick that wake() scheduled before this has run (and made its requests). */
const turn = () => new Promise<void>((r) => setImmediate(r));

/** A clock that moves only when told to. */
function manualClock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

async function metricValue(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  labels: Record<string, string>,
): Promise<number | undefined> {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

const emails = (n: number, prefix = 'c') => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`);

// ---------------------------------------------------------------------------------------------------------------

describe('AccountDelivery: a validation 400 that names contacts by index', () => {
  for (const base of [0, 1] as const) {
    it(`index base ${base}: the named contact that our email check also refuses is dead-lettered alone, the rest resent`, async () => {
      const { api, sink, add, delivery } = setup();
      const bad = "o'brien@example.com"; // an apostrophe in the local part: refused by emailProblem() too
      api.refused.add(bad);
      api.indexBase = base;
      const all = ['a@example.com', 'b@example.com', bad, 'd@example.com', 'e@example.com'];
      const refs = all.map((e) => add(e));
      await until(() => sink.settled.length === 4, 'the four valid contacts settle');
      await delivery.whenIdle();
      assert.deepEqual(sink.deadLetters, [
        // ActiveCampaign's reason, with the email it quotes masked.
        { ref: refs[2], stage: 'deliver', code: 'INVALID_CONTACT', message: "refused: o'b***@e***.com" },
      ]);
      assert.ok(sink.settledOnce(refs.filter((_, i) => i !== 2)));
      const [first, second, ...more] = api.bulks();
      assert.deepEqual(emailsOf(first), all);
      assert.deepEqual(
        emailsOf(second),
        all.filter((e) => e !== bad),
        'resent without the refused contact, nothing bisected',
      );
      assert.equal(more.length, 0);
    });

    it(`index base ${base}, neither candidate locally invalid: bisects until the refused contact is alone`, async () => {
      const { api, sink, add, delivery } = setup();
      const all = emails(9);
      const bad = all[5]!; // a valid-looking address that the account refuses (say, a domain it blocks)
      api.refused.add(bad);
      api.indexBase = base;
      const refs = all.map((e) => add(e));
      await until(
        () => sink.settled.length === 8 && sink.deadLetters.length === 1,
        'eight contacts settle and one is dead-lettered',
      );
      await delivery.whenIdle();
      assert.deepEqual(
        sink.deadLetters.map((d) => [d.ref, d.stage, d.code]),
        [[refs[5], 'deliver', 'INVALID_CONTACT']],
      );
      assert.ok(sink.settledOnce(refs.filter((_, i) => i !== 5)));
      const withBad = api.bulks().filter((r) => emailsOf(r).includes(bad));
      assert.deepEqual(emailsOf(withBad.at(-1)), [bad], 'the last request holding the refused contact held it alone');
      for (let i = 1; i < withBad.length; i++)
        assert.ok(withBad[i]!.contacts.length < withBad[i - 1]!.contacts.length, 'each bisection halves');
      // Everything else went in requests the account accepted, each contact exactly once.
      const delivered = [...api.batches.values()]
        .flat()
        .map((c) => c.email)
        .sort();
      assert.deepEqual(delivered, all.filter((e) => e !== bad).sort());
    });
  }
});

describe('AccountDelivery: import confirmation', () => {
  it('false → waiting → claimed → active → completed: every ref settles, only at completion', async () => {
    const { api, sink, add, delivery, metrics } = setup();
    const script: (string | false)[] = [false, 'waiting', 'claimed', 'active'];
    const settledAtPoll: number[] = [];
    api.info = (_, n) => {
      settledAtPoll.push(sink.settled.length);
      return n <= script.length ? status(script[n - 1]!) : completed();
    };
    const refs = [add('a@example.com'), add('b@example.com', { list: '2' }), add('a@example.com', { list: '3' })];
    await until(() => sink.settled.length === 3, 'every ref settles');
    await delivery.whenIdle();
    assert.deepEqual(settledAtPoll, [0, 0, 0, 0, 0], 'nothing settled before the import completed');
    assert.equal(api.infos().length, 5);
    assert.ok(sink.settledOnce(refs));
    assert.deepEqual(sink.deadLetters, []);
    assert.equal(await metricValue(metrics.confirmations, { status: 'completed' }), 1);
    assert.equal(api.bulks().length, 1, 'one contact in two lists and another contact: one request');
  });

  it('completed with an email in `failure` (any case, stray spaces): only the refused list is dead-lettered, its other changes are sent again', async () => {
    const { api, sink, add, delivery } = setup();
    api.known.set('bob@example.com', {
      id: '7',
      lists: [
        { list: '1', status: '2', udate: '2026-11-01T10:00:00+00:00' },
        { list: '2', status: '1' },
      ],
    });
    api.info = (batchId) => (batchId === 'batch-1' ? completed([' Bob@Example.COM']) : completed());
    const bobAdd = add('bob@example.com', { list: '1', op: 'add' });
    const bobRemove = add('bob@example.com', { list: '2', op: 'remove' });
    const others = [add('ann@example.com'), add('cy@example.com', { op: 'remove' })];
    await until(
      () => sink.settled.length === 3 && sink.deadLetters.length === 1,
      'three refs settle and one is dead-lettered',
    );
    await delivery.whenIdle();
    assert.ok(sink.settledOnce([...others, bobRemove]));
    // The subscribe that bulk import refused is an opt-out that stands (list 1 is unsubscribed); the unsubscribe of
    // list 2 is not dropped with it: it is sent again, alone.
    assert.deepEqual(
      sink.deadLetters.map((d) => [d.ref, d.stage, d.code]),
      [[bobAdd, 'confirm', 'CONSENT_OPTED_OUT']],
    );
    assert.ok(!sink.settled.includes(bobAdd), 'the refused add is not also settled');
    const again = api.bulks()[1]!.contacts;
    assert.deepEqual(
      again.map((c) => [c.email, c.subscribe, c.unsubscribe]),
      [['bob@example.com', undefined, [{ listid: 2 }]]],
    );
  });

  it('a contact that ActiveCampaign keeps listing as failed (e.g. excluded) is sent again a bounded number of times, then dead-lettered', async () => {
    const { api, sink, add, delivery } = setup();
    api.info = () => completed(['bob@example.com']);
    const bob = [add('bob@example.com', { list: '1', op: 'add' }), add('bob@example.com', { list: '2', op: 'remove' })];
    await until(() => sink.deadLetters.length === 2, 'both of its changes are dead-lettered');
    await delivery.whenIdle();
    assert.deepEqual(
      sink.deadLetters.map((d) => [d.ref, d.code]).sort(),
      bob.map((r) => [r, 'IMPORT_CONTACT_FAILED']).sort(),
    );
    assert.equal(api.bulks().length, 1 + 3, 'the first import and maxImportResubmits (3) resends');
  });

  for (const final of ['failed', 'interrupted'] as const) {
    it(`${final}: resubmitted from the current buffer state (a newer change that arrived meanwhile is what goes)`, async () => {
      const { api, sink, add, delivery, metrics } = setup();
      let fail = false;
      api.info = (batchId) => (batchId === 'batch-1' ? status(fail ? final : 'active') : completed());
      const r1 = add('a@example.com', { op: 'add' });
      const keep = add('k@example.com');
      await until(() => api.infos().length >= 1, 'the first import is accepted and polled');
      const r2 = add('a@example.com', { op: 'remove' }); // newer; waits while the old one is unconfirmed
      const polled = api.infos().length;
      await until(() => api.infos().length >= polled + 2, 'two more polls of the first import');
      assert.equal(api.bulks().length, 1, 'the newer change waits while its email is in an unconfirmed import');
      fail = true;
      await until(() => sink.settled.length === 3, 'all three refs settle after the resubmission');
      await delivery.whenIdle();
      const [first, second, ...more] = api.bulks();
      assert.deepEqual(first!.contacts.find((c) => c.email === 'a@example.com')?.subscribe, [{ listid: 1 }]);
      const resent = second!.contacts.find((c) => c.email === 'a@example.com');
      assert.deepEqual(resent?.unsubscribe, [{ listid: 1 }], 'the resubmission carries the newer remove');
      assert.equal(resent?.subscribe, undefined, 'the stale add is not resent');
      assert.deepEqual(emailsOf(second).sort(), ['a@example.com', 'k@example.com']);
      assert.equal(more.length, 0);
      assert.ok(sink.settledOnce([r1, r2, keep]));
      assert.deepEqual(sink.deadLetters, []);
      assert.equal(await metricValue(metrics.confirmations, { status: final }), 1);
    });
  }

  it('an import that keeps failing is resubmitted maxImportResubmits times, then dead-lettered as IMPORT_FAILED', async () => {
    const { api, sink, add, delivery } = setup({ opts: { maxImportResubmits: 2 } });
    api.info = () => status('failed');
    const refs = [add('a@example.com'), add('b@example.com')];
    await until(() => sink.deadLetters.length === 2, 'both contacts are dead-lettered');
    await delivery.whenIdle();
    assert.equal(api.bulks().length, 3, 'the first import and two resubmissions');
    assert.deepEqual(
      sink.deadLetters.map((d) => [d.ref, d.stage, d.code]).sort(),
      refs.map((r) => [r, 'confirm', 'IMPORT_FAILED']).sort(),
    );
    assert.match(sink.deadLetters[0]!.message, /failed/);
    assert.deepEqual(sink.settled, []);
  });

  it('a contact dead-lettered after a resubmission starts afresh: its next failed import is resubmitted again', async () => {
    const { api, sink, add, delivery } = setup({ opts: { maxImportResubmits: 1 } });
    api.info = (batchId) => (batchId === 'batch-3' ? completed() : status('failed'));
    api.bulk = (_, n) => (n === 2 ? http(404, { message: 'Not Found' }) : undefined);
    const lost = add('a@example.com', { op: 'add' });
    await until(() => sink.deadLetters.length === 1, 'the resubmission is rejected and dead-lettered');
    assert.deepEqual(
      sink.deadLetters.map((d) => [d.ref, d.code]),
      [[lost, 'NOT_FOUND']],
    );
    const later = add('a@example.com', { op: 'remove' });
    await until(
      () => sink.settled.length === 1 || sink.deadLetters.length > 1,
      'the later change settles or is dead-lettered',
    );
    await delivery.whenIdle();
    assert.deepEqual(sink.deadLetters.length, 1, `dead letters: ${sink.deadLetters.map((d) => d.code).join(', ')}`);
    assert.deepEqual(sink.settled, [later]);
    assert.equal(api.bulks().length, 4, 'failed, rejected, then failed and resubmitted once');
  });

  it('a batchId the account does not know (404 on /import/info) is treated as failed and resubmitted', async () => {
    const { api, sink, add, delivery, metrics } = setup();
    api.info = (batchId) =>
      batchId === 'batch-1' ? http(404, { message: 'No Result found for Import with id batch-1' }) : completed();
    const refs = [add('a@example.com'), add('b@example.com')];
    await until(() => sink.settled.length === 2, 'both refs settle');
    await delivery.whenIdle();
    assert.equal(api.bulks().length, 2);
    assert.deepEqual(emailsOf(api.bulks()[1]).sort(), ['a@example.com', 'b@example.com']);
    assert.ok(sink.settledOnce(refs));
    assert.deepEqual(sink.deadLetters, []);
    assert.equal(await metricValue(metrics.confirmations, { status: 'unknown' }), 1);
  });

  it('the first poll comes pollIntervalMs after acceptance, not before', async () => {
    const clock = manualClock();
    const { api, add, delivery } = setup({
      clock: clock.now,
      budgetScale: 1,
      rates: { requestsPerSecond: 100, importsPerMinute: 6_000, singleImportsPerMinute: 6_000 },
      opts: { pollIntervalMs: 200 },
      limits: { lingerMs: 0 },
    });
    api.info = () => status('active');
    add('a@example.com');
    await until(
      () => api.bulks().length === 1 && api.bulks()[0]!.answeredAt !== undefined,
      'the import is sent and accepted',
    );
    await turn();
    const acceptedAt = clock.t;
    clock.t = acceptedAt + 199;
    delivery.wake();
    await turn();
    assert.equal(api.infos().length, 0, 'no poll before pollIntervalMs');
    clock.t = acceptedAt + 200;
    delivery.wake();
    await turn();
    assert.equal(api.infos().length, 1, 'polled once pollIntervalMs has passed');
  });
});

describe('AccountDelivery: retry classification', () => {
  it('429 on a bulk import: no request before Retry-After elapses, then the batch is resent', async () => {
    const { api, sink, add, delivery, metrics } = setup({ clock: Date.now });
    api.bulk = (_, n) => (n === 1 ? http(429, { message: 'Too Many Requests' }, '0.25') : undefined);
    const refs = [add('a@example.com'), add('b@example.com')];
    await until(() => sink.settled.length === 2, 'both refs settle');
    await delivery.whenIdle();
    const [throttled, ...after] = api.requests;
    assert.ok(after.length >= 2, 'the resend and its poll');
    for (const r of after)
      assert.ok(
        r.at >= throttled!.answeredAt! + 250,
        `a ${r.kind} request ${r.at - throttled!.answeredAt!} ms after the 429`,
      );
    assert.deepEqual(emailsOf(api.bulks()[1]).sort(), ['a@example.com', 'b@example.com']);
    assert.ok(sink.settledOnce(refs));
    assert.deepEqual(sink.deadLetters, []);
    assert.equal(await metricValue(metrics.throttled, { code: 'RATE_LIMITED' }), 1);
    assert.equal(await metricValue(metrics.retryAfterSeconds, { connection: 'main' }), 0.25);
  });

  it('429 on /import/info: no request before Retry-After elapses, then confirmation goes on', async () => {
    const { api, sink, add, delivery } = setup({ clock: Date.now });
    api.info = (_, n) => (n === 1 ? http(429, undefined, '0.2') : completed());
    const ref = add('a@example.com');
    await until(() => sink.settled.length === 1, 'the ref settles');
    await delivery.whenIdle();
    const i = api.requests.findIndex((r) => r.kind === 'info');
    const throttled = api.requests[i]!;
    const after = api.requests.slice(i + 1);
    assert.equal(after.length, 1);
    assert.ok(after[0]!.at >= throttled.answeredAt! + 200, `${after[0]!.at - throttled.answeredAt!} ms after the 429`);
    assert.deepEqual(sink.settled, [ref]);
  });

  it('the bulk "Rate limit exceeded." 400: imports wait, nothing is dead-lettered, then the batch goes', async () => {
    const { api, sink, add, delivery, metrics } = setup({ clock: Date.now, budgetScale: 1_000 });
    api.bulk = (_, n) => (n === 1 ? http(400, { message: 'Rate limit exceeded.' }) : undefined);
    const refs = [add('a@example.com'), add('b@example.com')];
    await until(() => sink.settled.length === 2, 'both refs settle');
    await delivery.whenIdle();
    const [limited, resent] = api.bulks();
    // The bulk-import limit is per minute: the wait is 60 s, which the budget's timeScale of 1000 makes 60 ms.
    assert.ok(resent!.at >= limited!.answeredAt! + 60, `resent ${resent!.at - limited!.answeredAt!} ms after the 400`);
    assert.deepEqual(emailsOf(resent).sort(), ['a@example.com', 'b@example.com']);
    assert.ok(sink.settledOnce(refs));
    assert.deepEqual(sink.deadLetters, []);
    assert.equal(await metricValue(metrics.throttled, { code: 'BULK_RATE_LIMITED' }), 1);
  });

  const outages: [string, string, () => Answer<BulkImportAccepted>][] = [
    ['503', 'SERVER_ERROR', () => http(503, { message: 'Service Unavailable' })],
    ['a connection reset', 'NETWORK', () => noAnswer('ECONNRESET', 'socket hang up')],
    ['a timeout', 'TIMEOUT', () => noAnswer('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error')],
    ['403', 'AUTH_FAILED', () => http(403, { message: 'Forbidden' })],
  ];
  for (const [what, code, answer] of outages) {
    it(`${what} on bulk import: the account is down (gauge 1), nothing is dead-lettered, delivery resumes (gauge 0)`, async () => {
      const { api, sink, add, delivery, metrics } = setup();
      let healthy = false;
      api.bulk = () => (healthy ? undefined : answer());
      const refs = [add('a@example.com'), add('b@example.com')];
      await until(
        async () =>
          delivery.down && (await metricValue(metrics.accountDown, { code })) === 1 && api.bulks().length >= 3,
        'the account is down and retried with backoff',
      );
      assert.deepEqual(sink.deadLetters, []);
      assert.deepEqual(sink.settled, []);
      healthy = true;
      await until(() => sink.settled.length === 2, 'both refs settle once the account answers');
      await delivery.whenIdle();
      assert.equal(delivery.down, false);
      assert.equal(await metricValue(metrics.accountDown, { code }), 0);
      assert.ok(sink.settledOnce(refs));
      assert.deepEqual(sink.deadLetters, []);
      assert.ok(((await metricValue(metrics.retries, { reason: code })) ?? 0) >= 2);
    });
  }

  it('503 on /import/info: the account is down, then confirmation resumes', async () => {
    const { api, sink, add, delivery, metrics } = setup();
    let healthy = false;
    api.info = () => (healthy ? completed() : http(503));
    const ref = add('a@example.com');
    await until(
      async () => delivery.down && (await metricValue(metrics.accountDown, { code: 'SERVER_ERROR' })) === 1,
      'the account is down',
    );
    healthy = true;
    await until(() => sink.settled.length === 1, 'the ref settles');
    await delivery.whenIdle();
    assert.equal(await metricValue(metrics.accountDown, { code: 'SERVER_ERROR' }), 0);
    assert.deepEqual(sink.settled, [ref]);
    assert.equal(api.bulks().length, 1, 'the import itself is not resent');
  });

  it('a retry after a timeout carries the newer change that arrived while the request hung', async () => {
    const { api, sink, add, delivery } = setup();
    let answer: (a: Answer<BulkImportAccepted>) => void = () => undefined;
    api.bulk = (_, n) => (n === 1 ? new Promise((r) => (answer = r)) : undefined);
    const r1 = add('a@example.com', { op: 'add' });
    await until(() => api.bulks().length === 1, 'the first request is on its way');
    const r2 = add('a@example.com', { op: 'remove' });
    answer(noAnswer('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'));
    await until(() => sink.settled.length === 2, 'both refs settle');
    await delivery.whenIdle();
    const resent = api.bulks()[1]!.contacts;
    assert.deepEqual(resent, [{ email: 'a@example.com', unsubscribe: [{ listid: 1 }] }]);
    assert.ok(sink.settledOnce([r1, r2]));
  });

  it('a 404 on bulk import dead-letters the batch; delivery goes on', async () => {
    const { api, sink, add, delivery } = setup();
    api.bulk = (_, n) => (n === 1 ? http(404, { message: 'Not Found' }) : undefined);
    const lost = [add('a@example.com'), add('b@example.com')];
    await until(() => sink.deadLetters.length === 2, 'the batch is dead-lettered');
    const later = add('c@example.com');
    await until(() => sink.settled.length === 1, 'a later contact is delivered');
    await delivery.whenIdle();
    assert.deepEqual(
      sink.deadLetters.map((d) => [d.ref, d.stage, d.code]).sort(),
      lost.map((r) => [r, 'deliver', 'NOT_FOUND']).sort(),
    );
    assert.match(sink.deadLetters[0]!.message, /404/);
    assert.deepEqual(sink.settled, [later]);
    assert.equal(api.bulks().length, 2);
  });
});

describe('AccountDelivery: requests held up on the way and counted together', () => {
  // The 1M-contact benchmark (time scale 4) met one 429 this way: a stall of the account of about 0.25 real s is
  // 1 simulated s, five request gaps. ActiveCampaign's bucket (CONTRACT.md §2): 5 tokens, 5 a second.
  it('after a stalled account lets five requests through at once, the next waits until its bucket has a token', async () => {
    const clock = manualClock(0);
    const { api, add, delivery } = setup({
      clock: clock.now,
      budgetScale: 1,
      rates: { requestsPerSecond: 4.5, importsPerMinute: 6_000, singleImportsPerMinute: 19 },
      limits: { lingerMs: 0, maxContacts: 2 },
    });
    const [stallFrom, stallTo] = [2_000, 3_300];
    let stalled = false;
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    let held = 0;
    api.bulk = (contacts) =>
      stalled
        ? resumed.then(() =>
            http<BulkImportAccepted>(200, { queued_contacts: contacts.length, batchId: `held-${++held}` }),
          )
        : undefined;
    api.info = () => (stalled ? resumed.then(() => completed()) : completed());
    for (const email of emails(200)) add(email);
    for (let t = 0; t <= 6_000; t++) {
      clock.t = t;
      if (t === stallFrom) stalled = true;
      if (t === stallTo) {
        stalled = false;
        resume();
      }
      delivery.wake();
      await turn();
    }
    // Each request reaches the account when it was sent, or when the stall ends if it was sent during it.
    const during = (at: number) => at >= stallFrom && at < stallTo;
    assert.equal(api.requests.filter((r) => during(r.at)).length, 5, 'five requests went out during the stall');
    const arrivals = api.requests.map((r) => (during(r.at) ? stallTo : r.at)).sort((a, b) => a - b);
    const bucket = new WindowBucket(5, 1_000, 0); // the simulator's request limiter is the same bucket
    const refused = arrivals.filter((at) => !bucket.tryAcquire(at));
    assert.deepEqual(refused, [], 'the bucket refused none');
    const after = api.requests.map((r) => r.at).filter((at) => at > stallTo);
    assert.ok(after.length > 5 && after[0]! <= stallTo + 250, `the pace goes on after the stall (${after[0]})`);
  });
});

describe('AccountDelivery: the single-contact import budget', () => {
  const rates: BudgetRates = { requestsPerSecond: 100, importsPerMinute: 6_000, singleImportsPerMinute: 1 };

  it('one contact goes alone while the single-import budget lasts', async () => {
    const clock = manualClock();
    const { api, add, delivery } = setup({ clock: clock.now, rates, budgetScale: 1, limits: { lingerMs: 50 } });
    add('a@example.com');
    clock.t += 50;
    delivery.wake();
    await turn();
    assert.deepEqual(api.bulks().map(emailsOf), [['a@example.com']]);
  });

  it('with the single-import budget spent, one contact waits for more, and then they go together', async () => {
    const clock = manualClock();
    const { api, add, delivery, budget } = setup({ clock: clock.now, rates, budgetScale: 1, limits: { lingerMs: 50 } });
    budget.spend('single-import', clock.t); // the next single import may go in a minute
    add('a@example.com');
    clock.t += 1_000; // well past the linger; the shared import budget is free
    assert.ok(budget.readyAt('import', clock.t) <= clock.t);
    delivery.wake();
    await turn();
    assert.equal(api.bulks().length, 0, 'the lone contact was not sent');
    assert.equal(delivery.buffer.readyContacts, 1);
    add('b@example.com');
    await turn();
    assert.deepEqual(api.bulks().map(emailsOf), [['a@example.com', 'b@example.com']]);
  });
});

describe('AccountDelivery: tags on a leave (removeTagsOnLeave)', () => {
  function world(untagLists: string[]) {
    const w = setup({ opts: { untagLists: new Set(untagLists) } });
    w.api.known.set('ann@example.com', { id: '7', lists: [{ list: '1', status: '1' }] });
    w.api.tagIds.set('segment:vip', '11').set('other', '12');
    w.api.tagsOf.set(
      '7',
      new Map([
        ['22', '11'],
        ['23', '12'],
      ]),
    );
    return w;
  }

  it('a confirmed leave removes the export’s tag after the import, with the contact-tag endpoints', async () => {
    const { api, sink, add, delivery } = world(['1']);
    add('ann@example.com', { op: 'remove', tags: ['segment:vip'] });
    await until(() => api.tagsOf.get('7')!.size === 1, 'the tag removed');
    assert.deepEqual([...api.tagsOf.get('7')!], [['23', '12']], 'only the export’s own tag');
    const bulkAt = api.bulks()[0]!.answeredAt!;
    assert.ok(
      api.requests.filter((r) => r.kind === 'contact').every((r) => r.at >= bulkAt),
      'after the import',
    );
    await delivery.whenIdle();
    assert.equal(sink.applied_.length, 1, 'the leave itself is recorded once');
  });

  it('off for the list (the default): no contact-tag request, the tag stays', async () => {
    const { api, add, delivery } = world([]);
    add('ann@example.com', { op: 'remove', tags: ['segment:vip'] });
    await until(() => api.infos().length > 0, 'the import confirmed');
    await delivery.whenIdle();
    assert.equal(api.requests.filter((r) => r.kind === 'contact').length, 0);
    assert.equal(api.tagsOf.get('7')!.size, 2);
  });
});

describe('AccountDelivery: settleOnAccept', () => {
  it('refs settle when the import is accepted; a contact in `failure` is still dead-lettered', async () => {
    const { api, sink, add, delivery } = setup({ opts: { settleOnAccept: true } });
    api.known.set('bob@example.com', {
      id: '7',
      lists: [{ list: '1', status: '2', udate: '2026-11-01T10:00:00+00:00' }],
    });
    let done = false;
    api.info = () => (done ? completed(['bob@example.com']) : status('waiting'));
    const refs = [add('ann@example.com'), add('bob@example.com')];
    await until(() => api.infos().length >= 2, 'the import is accepted and polled');
    assert.deepEqual(sink.settled.sort(), [...refs].sort(), 'settled at acceptance, before confirmation');
    // An older change for a contact in flight settles with it, at once.
    const stale = add('ann@example.com', { op: 'remove', at: 1 });
    assert.ok(sink.settled.includes(stale));
    done = true;
    await until(() => sink.deadLetters.length === 1, 'the failed contact is dead-lettered');
    await delivery.whenIdle();
    assert.deepEqual(
      sink.deadLetters.map((d) => [d.ref, d.stage, d.code]),
      [[refs[1], 'confirm', 'CONSENT_OPTED_OUT']],
    );
    assert.ok(sink.settledOnce([...refs, stale]), 'completion settles nothing twice');
    assert.equal(api.bulks().length, 1, 'the stale change was never sent');
  });

  // Known gap at this level, left as a todo: each acceptance settles the refs it carries, so an import that fails and
  // is accepted again reports them twice. It is harmless downstream: Pipeline.settleOnce settles each ref once, so a
  // second report cannot stand in for another export's share of the same offset.
  it('a resubmitted import does not settle its refs a second time', {
    todo: 'refs settled at acceptance are settled again when a failed import is resubmitted and accepted',
  }, async () => {
    const { api, sink, add, delivery } = setup({ opts: { settleOnAccept: true } });
    api.info = (batchId) => (batchId === 'batch-1' ? status('failed') : completed());
    const refs = [add('ann@example.com'), add('bob@example.com')];
    await until(() => api.bulks().length === 2, 'the failed import is resubmitted');
    await delivery.whenIdle();
    assert.deepEqual(sink.deadLetters, []);
    assert.ok(sink.settledOnce(refs), `settled: ${sink.settled.join(', ')}`);
  });

  it('without it, nothing settles before confirmation', async () => {
    const { api, sink, add } = setup();
    api.info = () => status('waiting');
    add('ann@example.com');
    const stale = add('ann@example.com', { op: 'remove', at: 1 });
    await until(() => api.infos().length >= 2, 'the import is accepted and polled');
    assert.deepEqual(sink.settled, []);
    assert.deepEqual(sink.acceptedRefs.sort(), ['ann@example.com/1/add', stale].sort());
  });
});

describe('AccountDelivery: unconfirmed imports are capped', () => {
  it('never more than maxUnconfirmed imports await confirmation', async () => {
    const { api, sink, add, delivery, metrics } = setup({ opts: { maxUnconfirmed: 2 }, limits: { maxContacts: 2 } });
    let confirm = false;
    api.info = () => (confirm ? completed() : status('active'));
    const refs = emails(10).map((e) => add(e));
    await until(() => api.infos().length >= 6, 'the first imports are polled several times');
    assert.equal(api.bulks().length, 2, 'no third import while two are unconfirmed');
    assert.equal(await metricValue(metrics.unconfirmedImports, { connection: 'main' }), 2);
    confirm = true;
    await until(() => sink.settled.length === 10, 'every ref settles');
    await delivery.whenIdle();
    assert.equal(api.bulks().length, 5);
    for (const r of api.bulks()) assert.ok(r.outstanding < 2, `an import sent while ${r.outstanding} were unconfirmed`);
    assert.ok(sink.settledOnce(refs));
  });
});

describe('AccountDelivery: drain and whenIdle', () => {
  it("drain('shutdown') flushes below the linger; whenIdle() resolves only when all is confirmed", async () => {
    const { api, sink, add, delivery, metrics } = setup({ limits: { lingerMs: 60_000 } });
    let confirm = false;
    api.info = () => (confirm ? completed() : status('waiting'));
    const refs = [add('a@example.com'), add('b@example.com'), add('c@example.com')];
    delivery.wake();
    await turn();
    assert.equal(api.bulks().length, 0, 'nothing is due before the linger');
    let idle = false;
    void delivery.whenIdle().then(() => (idle = true));
    delivery.drain('shutdown');
    await until(() => api.infos().length >= 2, 'the import is sent and polled');
    assert.deepEqual(emailsOf(api.bulks()[0]), ['a@example.com', 'b@example.com', 'c@example.com']);
    assert.equal(idle, false, 'not idle while the import is unconfirmed');
    confirm = true;
    await until(() => idle, 'whenIdle() resolves');
    assert.ok(sink.settledOnce(refs));
    assert.equal(await metricValue(metrics.flushes, { trigger: 'shutdown' }), 1);
  });
});

describe('AccountDelivery: a rebalance while an import is in the air', () => {
  /** Refs are "g<generation>:<name>"; the gate counts only the current generation's, as the pipeline's does. */
  function generations() {
    let current = 1;
    const intents: string[][] = [];
    const gate: DeliveryGate<string> = {
      route: () => ({ kind: 'import' }),
      intend: async (_c, removes) => void intents.push(removes.map((r) => `${r.email}/${r.listId}`)),
      live: (ref) => ref.startsWith(`g${current}:`),
    };
    return { gate, intents, rebalance: () => current++ };
  }

  // Issue 12, defect 1: after the rebalance the copy of the event fetched again waited behind the in-flight import;
  // the import then failed, the requeue merged the old refs after the new one, the old ref won, and the new copy
  // was settled as stale without ever being sent.
  for (const failure of ['failed', 'throttled'] as const) {
    it(`the event fetched again is sent when the old import ${failure === 'failed' ? 'fails' : 'is throttled'}, not settled unsent`, async () => {
      const g = generations();
      const { api, sink, add, delivery } = setup({ gate: g.gate });
      let first = true;
      let rebalanced = false;
      api.bulk = (_contacts, n) =>
        n === 1 && failure === 'throttled'
          ? new Promise((r) => setTimeout(() => r(http(429, {}, '0')), 30))
          : undefined;
      // The first import fails only after the rebalance (before it, it would be resubmitted as a live change).
      api.info = (batchId) => (batchId === 'batch-1' && first ? status(rebalanced ? 'failed' : 'active') : completed());
      add('ann@example.com', { ref: 'g1:ann', at: 5_000 });
      await until(() => api.bulks().length === 1, 'the first import is sent');
      g.rebalance();
      rebalanced = true;
      delivery.dropRevoked((r) => !g.gate.live(r));
      add('ann@example.com', { ref: 'g2:ann', at: 5_000 }); // the same event, fetched again by the new generation
      await until(() => sink.settled.includes('g2:ann'), 'the copy fetched again settles');
      // It settled through the confirmation of an import sent after the rebalance, not as stale before any was.
      const sentAgain = api.bulks().slice(1);
      assert.ok(sentAgain.length >= 1, 'the change was sent again before the copy settled');
      assert.deepEqual(emailsOf(sentAgain.at(-1)!), ['ann@example.com']);
      first = false;
      await delivery.whenIdle();
    });
  }

  it('older events of the new generation attached to an in-flight change of the old one settle as superseded when it fails, and nothing of it is sent', async () => {
    const g = generations();
    const { api, sink, add, delivery } = setup({ gate: g.gate });
    let rebalanced = false;
    // The first import fails only after the rebalance: before it, it would be resubmitted as a live change.
    api.info = (batchId) => (batchId === 'batch-1' ? status(rebalanced ? 'failed' : 'active') : completed());
    add('ann@example.com', { ref: 'g1:ann-new', at: 9_000 });
    await until(() => api.bulks().length === 1, 'the first import is sent');
    g.rebalance();
    rebalanced = true;
    delivery.dropRevoked((r) => !g.gate.live(r));
    add('ann@example.com', { ref: 'g2:ann-old', at: 1_000 }); // an older event: attached to the in-flight change
    await until(() => sink.settled.includes('g2:ann-old'), 'the older event settles');
    await delivery.whenIdle();
    assert.equal(
      api.bulks().length,
      1,
      'the newer event returns with its partition: nothing of the old change is sent again',
    );
  });

  it("writes the intents of an import's unsubscribes before it sends it, and a resubmit writes them again", async () => {
    const g = generations();
    const { api, add, delivery } = setup({ gate: g.gate });
    api.info = (batchId) => (batchId === 'batch-1' ? status('failed') : completed());
    add('ann@example.com', { ref: 'g1:a', op: 'remove' });
    add('bob@example.com', { ref: 'g1:b', op: 'add' });
    await delivery.whenIdle();
    assert.deepEqual(g.intents, [['ann@example.com/1'], ['ann@example.com/1']]);
    assert.equal(api.bulks().length, 2);
  });
});

describe('AccountDelivery: the confirmation deadline', () => {
  // Issue 14, defect 1: an import that never completed (stuck in active, or status false for ever) was polled for
  // ever, its emails held and its offsets uncommitted.
  for (const stuck of ['active', false] as const) {
    it(`an import that stays ${String(stuck)} is resubmitted at its deadline, and its changes settle through the new one`, async () => {
      const { api, sink, add, delivery, metrics } = setup({ opts: { confirmTimeoutMs: 2_000 } }); // 20 ms at timeScale 100
      api.info = (batchId) => (batchId === 'batch-1' ? status(stuck) : completed());
      const refs = [add('a@example.com'), add('b@example.com')];
      await until(() => sink.settled.length === 2, 'the changes settle');
      await delivery.whenIdle();
      assert.ok(sink.settledOnce(refs));
      assert.equal(api.bulks().length, 2, 'resubmitted once');
      assert.equal(await metricValue(metrics.confirmations, { status: 'timeout' }), 1);
    });
  }

  it('an import that never completes, however often it is resubmitted, is dead-lettered IMPORT_FAILED after maxImportResubmits', async () => {
    const { api, sink, add, delivery } = setup({ opts: { confirmTimeoutMs: 2_000, maxImportResubmits: 2 } });
    api.info = () => status('active');
    const ref = add('a@example.com');
    await until(() => sink.deadLetters.length === 1, 'dead-lettered');
    await delivery.whenIdle();
    assert.deepEqual(
      sink.deadLetters.map((d) => [d.ref, d.code]),
      [[ref, 'IMPORT_FAILED']],
    );
    assert.equal(api.bulks().length, 3, 'the first import and two resubmits');
  });
});

// Issue 14, deliver 1: ActiveCampaign cannot cancel a batch, so one abandoned at its deadline may still complete,
// after its changes were resubmitted and overtaken by newer ones, and write its old ops over them.
describe('AccountDelivery: an abandoned import that completes late', () => {
  it('over a newer change of the other op: the newest state is sent again, once', async () => {
    let late = false;
    const { api, sink, add, delivery, metrics } = setup({ opts: { confirmTimeoutMs: 2_000 } }); // 20 ms at timeScale 100
    api.info = (batchId) => (batchId === 'batch-1' && !late ? status('active') : completed());
    const first = add('a@example.com');
    await until(() => sink.settled.includes(first), 'the add settles through its resubmission');
    const remove = add('a@example.com', { op: 'remove' });
    await until(() => sink.settled.includes(remove), 'the newer remove settles');
    assert.equal(api.bulks().length, 3, 'the abandoned import, its resubmission, the remove');
    late = true; // batch-1 completes now: its add lands over the remove
    await until(
      () => api.bulks().length === 4,
      'the remove is sent again after the abandoned import is seen to have completed',
      10_000,
    );
    assert.deepEqual(
      api.bulks()[3]!.contacts.map((c) => [c.email, c.subscribe, c.unsubscribe]),
      [['a@example.com', undefined, [{ listid: 1 }]]],
    );
    await delivery.whenIdle();
    assert.equal(api.bulks().length, 4, 'sent again once');
    assert.ok(sink.settledOnce([first, remove]), 'nothing settles twice');
    assert.equal(await metricValue(metrics.lateImportReasserts, { connection: 'main' }), 1);
  });

  it('over a newer change of the same op, or as the newest change itself: nothing is sent again', async () => {
    let late = false;
    const { api, sink, add, delivery } = setup({ opts: { confirmTimeoutMs: 2_000 } });
    api.info = (batchId) => (batchId === 'batch-1' && !late ? status('active') : completed());
    const first = add('a@example.com');
    const other = add('b@example.com');
    await until(() => sink.settledOnce([first, other]), 'both settle through the resubmission');
    const again = add('a@example.com', { ref: 'a-again' }); // a newer add: the same op as the late batch
    await until(() => sink.settled.includes(again), 'the newer add settles');
    const bulks = api.bulks().length;
    const polls = () => api.infos().filter((i) => i.batchId === 'batch-1' && i.answeredAt !== undefined).length;
    const before = polls();
    late = true;
    await until(() => polls() > before, 'the abandoned import is seen to have completed', 10_000);
    await delivery.whenIdle();
    assert.equal(api.bulks().length, bulks, 'nothing sent again');
  });
});

// Issue 14, defect 5: state keyed by entries outlived them after a rebalance: a leftover plainNext entry skipped
// the ledger's route for a later change of the same contact and list.
describe('AccountDelivery: nothing keyed by an entry outlives it', () => {
  it('a rebalance that drops a re-entry waiting as a plain import leaves no mark: the next change is routed by the ledger again', async () => {
    let current = 1;
    const routed: string[] = [];
    const gate: DeliveryGate<string> = {
      route: (_c, email, listId, change) => (
        routed.push(`${email}/${listId}/${change.winner}`), { kind: 'resubscribe', window: { from: 0, to: 1 } }
      ),
      intend: async () => undefined,
      live: (ref) => ref.startsWith(`g${current}:`),
    };
    const { api, add, delivery } = setup({ gate, limits: { lingerMs: 60_000 } });
    add('ann@example.com', { ref: 'g1:ann' });
    delivery.drain('shutdown');
    await until(() => api.bulks().length === 1, 'the import carrying the re-entry goes');
    delivery.drain(undefined);
    // The contact is unknown to the account: the re-entry waits in the buffer as a plain import (the linger holds it).
    await until(
      () => api.requests.filter((r) => r.kind === 'contact').length >= 1 && delivery.buffer.contacts === 1,
      'the re-entry is requeued as a plain import',
    );
    current = 2;
    delivery.dropRevoked((r) => !gate.live(r));
    assert.equal(delivery.buffer.contacts, 0);
    add('ann@example.com', { ref: 'g2:ann' });
    delivery.drain('shutdown');
    await until(() => routed.includes('ann@example.com/1/g2:ann'), 'the new change is routed by the ledger');
  });
});

describe('AccountDelivery: a remove never creates a contact (issue 15, defect 3)', () => {
  const gate = (known: Set<string>): DeliveryGate<string> => ({
    route: () => ({ kind: 'import' }),
    intend: async () => undefined,
    live: () => true,
    knows: (_c, email) => known.has(email),
  });

  it('removes of a contact neither the ledger nor ActiveCampaign has settle unsent; a found one is sent', async () => {
    // Reproduced on the old scheduler: the unsubscribe-only contact went in a bulk import, which creates it.
    const { api, sink, add, delivery } = setup({ gate: gate(new Set(['ledger@example.com'])) });
    api.known.set('found@example.com', { id: '7', lists: [{ list: '1', status: '1' }] });
    const refs = ['never@example.com', 'found@example.com', 'ledger@example.com'].map((e) => add(e, { op: 'remove' }));
    await until(() => sink.settled.length === 3, 'all three removes settle');
    await delivery.whenIdle();
    const sent = api
      .bulks()
      .flatMap((r) => r.contacts.map((c) => c.email))
      .sort();
    assert.deepEqual(
      sent,
      ['found@example.com', 'ledger@example.com'],
      'the unknown contact is never in a bulk import',
    );
    assert.equal(
      api.requests.filter((r) => r.kind === 'contact').length,
      2,
      'one lookup each for the two the ledger does not know',
    );
    assert.ok(sink.settledOnce(refs));
    assert.equal(sink.deadLetters.length, 0);
  });

  it('a remove beside an add of the same contact needs no lookup (the add creates the contact anyway)', async () => {
    const { api, sink, add, delivery } = setup({ gate: gate(new Set()) });
    add('ann@example.com', { list: '1', op: 'remove' });
    add('ann@example.com', { list: '2', op: 'add' });
    await until(() => sink.settled.length === 2, 'both changes settle');
    await delivery.whenIdle();
    assert.equal(api.requests.filter((r) => r.kind === 'contact').length, 0);
    assert.deepEqual(emailsOf(api.bulks()[0]), ['ann@example.com']);
  });
});
