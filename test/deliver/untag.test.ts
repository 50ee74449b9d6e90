import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyUpdate, newEntry, type ContactEntry } from '../../src/buffer/contact-entry.js';
import { classifyResponse } from '../../src/deliver/classify.js';
import type { AcApi, Answer } from '../../src/deliver/client.js';
import { UntagJob, untagsOf, type TagIds, type UntagStep } from '../../src/deliver/untag.js';
import { updates } from '../buffer/updates.js';

const change = updates();

/** An entry with these (list, op, tags) changes. */
function entry(email: string, lists: [string, 'add' | 'remove', string[]][]): ContactEntry<string> {
  const e = newEntry<string>(email, 0);
  for (const [listId, op, tags] of lists)
    applyUpdate(e, change(email, listId, op, 1_000, `${email}/${listId}`, { tags }));
  return e;
}

const none = () => new Set<string>();

describe('untagsOf: which tags a completed import removes', () => {
  it('a leave of a list whose export removes tags removes that export’s tags', () => {
    const out = untagsOf(
      [entry('a@example.com', [['1', 'remove', ['segment:vip', 'vip-2']]])],
      new Set(),
      new Set(['1']),
      none,
    );
    assert.deepEqual([...out], [['a@example.com', ['segment:vip', 'vip-2']]]);
  });

  it('off by default: a list not in the set, a leave without tags, an add, or a failed contact removes nothing', () => {
    const es = [
      entry('a@example.com', [['2', 'remove', ['segment:news']]]),
      entry('b@example.com', [['1', 'remove', []]]),
      entry('c@example.com', [['1', 'add', ['segment:vip']]]),
      entry('d@example.com', [['1', 'remove', ['segment:vip']]]),
    ];
    assert.equal(untagsOf(es, new Set(['d@example.com']), new Set(['1']), none).size, 0);
    assert.equal(untagsOf(es, new Set(), new Set(), none).size, 0);
  });

  it('a tag another export still gives stays: by an add in the same import, or by a list the ledger holds as added', () => {
    const e = entry('a@example.com', [
      ['1', 'remove', ['shared', 'vip']],
      ['2', 'add', ['shared', 'news']],
    ]);
    assert.deepEqual([...untagsOf([e], new Set(), new Set(['1']), none)], [['a@example.com', ['vip']]]);
    const f = entry('b@example.com', [['1', 'remove', ['shared', 'vip']]]);
    const asked: string[] = [];
    const given = (email: string, listId: string, ref: string) => {
      asked.push(`${email} ${listId} ${ref}`);
      return new Set(['shared']);
    };
    assert.deepEqual([...untagsOf([f], new Set(), new Set(['1']), given)], [['b@example.com', ['vip']]]);
    assert.deepEqual(
      asked,
      ['b@example.com 1 b@example.com/1'],
      'asked about the other exports of the leave’s list, with its ref',
    );
    const all = () => new Set(['shared', 'vip']);
    assert.equal(untagsOf([f], new Set(), new Set(['1']), all).size, 0, 'nothing left to remove');
  });
});

/** A scripted account: contacts by email, tags by name, each contact's tag associations; every call recorded. */
class TagAccount {
  readonly calls: string[] = [];
  readonly contacts = new Map<string, string>();
  readonly tags = new Map<string, string>();
  /** contact id → association id → tag id */
  readonly held = new Map<string, Map<string, string>>();
  /** Answers the next call with this status instead (once). */
  next: { status: number; body?: unknown; retryAfter?: string } | undefined;

  api(): AcApi {
    const answer = <T>(call: string, status: number, body: T): Answer<T> => {
      this.calls.push(call);
      const forced = this.next;
      this.next = undefined;
      const s = forced?.status ?? status;
      const b = forced ? (forced.body as T) : body;
      return { status: s, verdict: classifyResponse(s, b, forced?.retryAfter, Date.now()), body: b, latencyMs: 0 };
    };
    return {
      findContact: async (email: string) =>
        answer('find', 200, { contacts: this.contacts.has(email) ? [{ id: this.contacts.get(email)!, email }] : [] }),
      contactTags: async (id: string) =>
        answer('contactTags', 200, {
          contactTags: [...(this.held.get(id) ?? new Map<string, string>())].map(([ct, tag]) => ({ id: ct, tag })),
        }),
      findTags: async (name: string) =>
        answer('findTags', 200, {
          tags: [...this.tags].filter(([n]) => n.includes(name)).map(([tag, id]) => ({ id, tag })),
        }),
      removeContactTag: async (ct: string) => {
        const found = [...this.held.values()].some((m) => m.delete(ct));
        return answer(
          `delete ${ct}`,
          found ? 200 : 404,
          found ? {} : { message: `No Result found for SubscriberTag with id ${ct}` },
        );
      },
    } as unknown as AcApi;
  }
}

async function runJob(job: UntagJob, api: AcApi, maxSteps = 20): Promise<UntagStep[]> {
  const steps: UntagStep[] = [];
  for (let i = 0; i < maxSteps; i++) {
    const r = await job.step(api);
    steps.push(r);
    if (r.kind === 'done') return steps;
  }
  throw new Error('the job did not end');
}

describe('UntagJob: the contact-tag endpoints, one request per step', () => {
  function account() {
    const a = new TagAccount();
    a.contacts.set('a@example.com', '7');
    a.tags.set('vip', '11').set('vip-old', '12').set('news', '13');
    a.held.set(
      '7',
      new Map([
        ['22', '11'],
        ['23', '13'],
      ]),
    );
    return a;
  }

  it('finds the contact, reads its tags, resolves the names once, deletes only the associations it has', async () => {
    const a = account();
    const ids: TagIds = new Map();
    const steps = await runJob(new UntagJob('a@example.com', ['vip', 'vip-old'], ids, true), a.api());
    assert.deepEqual(steps.at(-1), { kind: 'done', result: 'removed' });
    assert.deepEqual(a.calls, ['find', 'contactTags', 'findTags', 'delete 22', 'findTags']);
    assert.deepEqual([...a.held.get('7')!], [['23', '13']], 'news stays');
    a.calls.length = 0;
    a.held.get('7')!.set('24', '11');
    await runJob(new UntagJob('a@example.com', ['vip'], ids, true), a.api());
    assert.deepEqual(
      a.calls,
      ['find', 'contactTags', 'delete 24'],
      'the tag id is known now: 2 requests + 1 per tag removed',
    );
  });

  it('a "contains" search never removes another tag; a contact without the tags costs 2 requests', async () => {
    const a = account();
    const ids: TagIds = new Map([['vip', '11']]);
    a.held.set('7', new Map([['23', '13']]));
    const steps = await runJob(new UntagJob('a@example.com', ['vip'], ids, true), a.api());
    assert.deepEqual(steps.at(-1), { kind: 'done', result: 'none' });
    assert.deepEqual(a.calls, ['find', 'contactTags']);
    const b = account();
    const fresh: TagIds = new Map();
    await runJob(new UntagJob('a@example.com', ['vi'], fresh, true), b.api());
    assert.equal(fresh.get('vi'), undefined, '"vi" is not "vip"');
    assert.equal(b.held.get('7')!.size, 2);
  });

  it('a contact the account does not have: done, missing', async () => {
    const a = account();
    assert.deepEqual((await runJob(new UntagJob('zed@example.com', ['vip'], new Map(), true), a.api())).at(-1), {
      kind: 'done',
      result: 'missing',
    });
  });

  it('a 429 or a 5xx waits and the same step runs again; a refusal ends the job as failed; a 404 on delete is done', async () => {
    const a = account();
    const job = new UntagJob('a@example.com', ['vip'], new Map([['vip', '11']]), true);
    a.next = { status: 429, body: {}, retryAfter: '2' };
    assert.equal((await job.step(a.api())).kind, 'wait');
    a.next = { status: 503, body: {} };
    assert.equal((await job.step(a.api())).kind, 'wait');
    assert.deepEqual(await job.step(a.api()), { kind: 'progress' });
    assert.deepEqual(a.calls, ['find', 'find', 'find']);
    await job.step(a.api());
    a.held.get('7')!.delete('22'); // removed by someone else meanwhile
    assert.deepEqual(await job.step(a.api()), { kind: 'done', result: 'removed' });
    const b = account();
    b.next = { status: 400, body: {} };
    const failed = (await runJob(new UntagJob('a@example.com', ['vip'], new Map(), true), b.api())).at(-1);
    assert.equal(failed?.kind === 'done' && failed.result, 'failed');
  });
});
