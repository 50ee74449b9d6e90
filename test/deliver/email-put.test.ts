import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AcClient } from '../../src/deliver/client.js';
import { readPut } from '../../src/deliver/email-put.js';
import { startSimulator, type Simulator } from '../../packages/ac-simulator/src/index.js';

/**
 * How the client reads PUT /contacts/{id} for an email another contact has: every shape the simulator can answer
 * (takenEmailAnswer; ActiveCampaign does not document it), over a real socket through the real client.
 */
let sim: Simulator;
let client: AcClient;
let ids: { ann: string; cy: string };

before(async () => {
  sim = await startSimulator({ limits: { enabled: false } });
  client = new AcClient({ apiUrl: sim.url, apiKey: () => sim.options.apiToken, timeoutMs: 5_000 });
  ids = { ann: sim.seedContact({ email: 'ann@example.com' }), cy: sim.seedContact({ email: 'cy@example.com' }) };
});
after(async () => {
  await client.close();
  await sim.close();
});

describe('PUT /contacts/{id} with a taken email, each shape', () => {
  for (const shape of ['422', '400', '409', 'ignored'] as const) {
    it(`takenEmailAnswer ${shape}: read as ${shape === 'ignored' ? 'unchanged' : 'taken'}, and the contact keeps its email`, async () => {
      sim.configure({ takenEmailAnswer: shape });
      const a = await client.updateContactEmail(ids.ann, 'cy@example.com');
      assert.equal(a.status, shape === 'ignored' ? 200 : Number(shape));
      assert.equal(readPut(a, 'cy@example.com'), shape === 'ignored' ? 'unchanged' : 'taken');
      const found = await client.findContact('ann@example.com');
      assert.equal(found.body?.contacts?.[0]?.id, ids.ann, 'nothing changed');
    });
  }

  it('a free email is changed (200 showing it), an unknown id is missing (404), a bad email failed (400)', async () => {
    sim.configure({ takenEmailAnswer: '422' });
    assert.equal(readPut(await client.updateContactEmail('999', 'x@example.com'), 'x@example.com'), 'missing');
    assert.equal(readPut(await client.updateContactEmail(ids.ann, 'not-an-email'), 'not-an-email'), 'failed');
    assert.equal(
      readPut(await client.updateContactEmail(ids.ann, 'ann.new@example.com'), 'ann.new@example.com'),
      'changed',
    );
    assert.equal(readPut(await client.updateContactEmail(ids.ann, 'ann@example.com'), 'ann@example.com'), 'changed');
  });
});

describe('readPut, pure', () => {
  it('reads a duplicate named in errors[].code, in a title, or in a message; a bare 422 as taken; other refusals as failed', () => {
    assert.equal(readPut({ status: 400, body: { errors: [{ code: 'duplicate' }] } }, 'a@x.com'), 'taken');
    assert.equal(
      readPut({ status: 400, body: { errors: [{ title: 'Email address already exists in the system' }] } }, 'a@x.com'),
      'taken',
    );
    assert.equal(readPut({ status: 400, body: { message: 'This email is already in use' } }, 'a@x.com'), 'taken');
    assert.equal(readPut({ status: 422, body: undefined }, 'a@x.com'), 'taken');
    assert.equal(readPut({ status: 409, body: undefined }, 'a@x.com'), 'taken');
    assert.equal(readPut({ status: 400, body: { errors: [{ code: 'email_invalid' }] } }, 'a@x.com'), 'failed');
    assert.equal(readPut({ status: 403, body: { message: 'Forbidden' } }, 'a@x.com'), 'failed');
  });

  it('a 2xx is changed unless its contact shows another email; an email in another case is the same', () => {
    assert.equal(readPut({ status: 200, body: {} }, 'a@x.com'), 'changed');
    assert.equal(readPut({ status: 201, body: { contact: { email: 'A@X.com' } } }, 'a@x.com'), 'changed');
    assert.equal(readPut({ status: 200, body: { contact: { email: 'old@x.com' } } }, 'a@x.com'), 'unchanged');
  });
});
