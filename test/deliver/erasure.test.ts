import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyResponse } from '../../src/deliver/classify.js';
import type { AcApi, Answer, ContactsFound } from '../../src/deliver/client.js';
import { ErasureJob, type ErasureStep } from '../../src/deliver/erasure.js';

/** Answers as the client would give them: the verdict is classified from the status, as AcClient does. */
const answer = <T>(status: number, body?: T): Answer<T> => ({
  status,
  verdict: classifyResponse(status, body, undefined, 0),
  body,
  latencyMs: 0,
});

/** Only the two calls an erasure makes; anything else fails the test. */
function client(find: Answer<ContactsFound>, del: Answer<unknown> = answer(200, {})): AcApi & { calls: string[] } {
  const calls: string[] = [];
  const unexpected = () => {
    throw new Error('an erasure makes no other request');
  };
  return {
    calls,
    findContact: async (email) => (calls.push(`find ${email}`), find),
    deleteContact: async (id) => (calls.push(`delete ${id}`), del),
    bulkImport: unexpected,
    importInfo: unexpected,
    memberships: unexpected,
    setListStatus: unexpected,
    getList: unexpected,
    fields: unexpected,
    contactTags: unexpected,
    findTags: unexpected,
    removeContactTag: unexpected,
    close: async () => undefined,
  };
}

async function run(c: AcApi, job = new ErasureJob('ann@example.com', 1, 'ref')): Promise<ErasureStep[]> {
  const steps: ErasureStep[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await job.step(c);
    steps.push(s);
    if (s.kind !== 'progress') break;
  }
  return steps;
}

describe('an erasure for one account', () => {
  it('looks the contact up by its exact email, then deletes it by id', async () => {
    const c = client(answer(200, { contacts: [{ id: '7', email: 'ann@example.com' }] }));
    const steps = await run(c);
    assert.deepEqual(
      steps.map((s) => s.kind),
      ['progress', 'done'],
    );
    assert.deepEqual(steps[1], { kind: 'done', result: 'deleted' });
    assert.deepEqual(c.calls, ['find ann@example.com', 'delete 7']);
  });

  it('a person the account does not have is done without a delete (absent); another email is never taken for them', async () => {
    const c = client(answer(200, { contacts: [{ id: '8', email: 'ann.lee@example.com' }] }));
    assert.deepEqual(await run(c), [{ kind: 'done', result: 'absent' }]);
    assert.deepEqual(c.calls, ['find ann@example.com']);
  });

  it('a 404 on the delete is done too (deleted meanwhile, or by an attempt whose answer was lost)', async () => {
    const c = client(
      answer(200, { contacts: [{ id: '7', email: 'ann@example.com' }] }),
      answer(404, { message: 'No result found for contact with id 7' }),
    );
    assert.deepEqual((await run(c)).at(-1), { kind: 'done', result: 'absent' });
  });

  it('a 403 on the delete is a refusal of the delete (dead-lettered), not a refused token that pauses the account', async () => {
    const c = client(answer(200, { contacts: [{ id: '7', email: 'ann@example.com' }] }), answer(403, {}));
    const last = (await run(c)).at(-1)!;
    assert.equal(last.kind, 'refused');
    assert.match(last.kind === 'refused' ? last.message : '', /403.*delete/);
  });

  it('a 429 or a 5xx waits and repeats the same step; the lookup is not made again', async () => {
    const job = new ErasureJob('ann@example.com', 1, 'ref');
    const found = answer(200, { contacts: [{ id: '7', email: 'ann@example.com' }] });
    assert.equal((await job.step(client(found))).kind, 'progress');
    const busy = client(found, answer(429, {}));
    assert.equal((await job.step(busy)).kind, 'wait');
    assert.equal((await job.step(client(found, answer(503, {})))).kind, 'wait');
    const ok = client(found);
    assert.deepEqual(await job.step(ok), { kind: 'done', result: 'deleted' });
    assert.deepEqual(ok.calls, ['delete 7']);
  });

  it('a refused lookup is a refusal with its reason', async () => {
    const last = (await run(client(answer<ContactsFound>(400, { message: 'bad' } as ContactsFound)))).at(-1)!;
    assert.deepEqual(last, {
      kind: 'refused',
      message: 'the contact lookup before an erasure was refused: HTTP 400: bad',
    });
  });
});
