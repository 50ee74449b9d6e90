import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REGISTRY_CONTENT_TYPE, startSchemaRegistry, type SchemaRegistrySim } from '../src/registry.js';

const stringSchema = JSON.stringify({ type: 'string' });
const recordSchema = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] });

async function call(
  reg: SchemaRegistrySim,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${reg.url}${path}`, {
    method,
    headers: { 'content-type': REGISTRY_CONTENT_TYPE, ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: (await res.json()) as Record<string, unknown> & unknown[],
  };
}

async function withRegistry(
  fn: (reg: SchemaRegistrySim) => Promise<void>,
  opts: Parameters<typeof startSchemaRegistry>[0] = {},
): Promise<void> {
  const reg = await startSchemaRegistry(opts);
  try {
    await fn(reg);
  } finally {
    await reg.close();
  }
}

describe('schema registry subset', () => {
  it('gives one global id per schema, registers versions per subject, and serves schemas by id', () =>
    withRegistry(async (reg) => {
      const a = await call(reg, 'POST', '/subjects/a-value/versions', { schema: recordSchema });
      assert.equal(a.status, 200);
      assert.equal(a.type, REGISTRY_CONTENT_TYPE);
      assert.deepEqual(a.body, { id: 1 });
      // The same schema with other whitespace, under another subject: the same id.
      const again = await call(reg, 'POST', '/subjects/b-value/versions', {
        schema: JSON.stringify(JSON.parse(recordSchema), null, 2),
      });
      assert.deepEqual(again.body, { id: 1 });
      const second = await call(reg, 'POST', '/subjects/a-value/versions', { schema: stringSchema });
      assert.deepEqual(second.body, { id: 2 });
      // Registering a version the subject already has adds nothing.
      assert.deepEqual((await call(reg, 'POST', '/subjects/a-value/versions', { schema: recordSchema })).body, {
        id: 1,
      });

      assert.deepEqual((await call(reg, 'GET', '/schemas/ids/1')).body, { schema: recordSchema });
      assert.deepEqual((await call(reg, 'GET', '/subjects')).body, ['a-value', 'b-value']);
      assert.deepEqual((await call(reg, 'GET', '/subjects/a-value/versions')).body, [1, 2]);
      assert.deepEqual((await call(reg, 'GET', '/subjects/a-value/versions/latest')).body, {
        subject: 'a-value',
        version: 2,
        id: 2,
        schema: stringSchema,
      });
      assert.deepEqual((await call(reg, 'GET', '/subjects/a-value/versions/1')).body, {
        subject: 'a-value',
        version: 1,
        id: 1,
        schema: recordSchema,
      });
      assert.deepEqual((await call(reg, 'POST', '/subjects/b-value', { schema: recordSchema })).body, {
        subject: 'b-value',
        version: 1,
        id: 1,
        schema: recordSchema,
      });
      assert.equal(reg.counters.byRoute['GET /schemas/ids/{id}'], 1);
    }));

  it("answers unknown ids, subjects and versions with Confluent's error codes", () =>
    withRegistry(async (reg) => {
      await call(reg, 'POST', '/subjects/a-value/versions', { schema: stringSchema });
      const unknownId = await call(reg, 'GET', '/schemas/ids/42');
      assert.equal(unknownId.status, 404);
      assert.equal(unknownId.body.error_code, 40403);
      assert.equal((await call(reg, 'GET', '/schemas/ids/-1')).body.error_code, 40403);
      assert.equal((await call(reg, 'GET', '/subjects/nope/versions/latest')).body.error_code, 40401);
      assert.equal((await call(reg, 'GET', '/subjects/a-value/versions/9')).body.error_code, 40402);
      assert.equal((await call(reg, 'POST', '/subjects/a-value', { schema: recordSchema })).body.error_code, 40403);
      const route = await call(reg, 'GET', '/no/such/route');
      assert.equal(route.status, 404);
      assert.equal(route.body.error_code, 404, 'an unknown route is not "schema not found"');
    }));

  it('refuses a schema that is not JSON, a body without a schema, and bad JSON', () =>
    withRegistry(async (reg) => {
      const invalid = await call(reg, 'POST', '/subjects/a-value/versions', { schema: '{"type": "record",' });
      assert.equal(invalid.status, 422);
      assert.equal(invalid.body.error_code, 42201);
      assert.equal((await call(reg, 'POST', '/subjects/a-value/versions', { notSchema: 1 })).body.error_code, 42201);
      assert.equal((await call(reg, 'POST', '/subjects/a-value/versions', 'not json')).status, 400);
      assert.deepEqual((await call(reg, 'GET', '/subjects')).body, [], 'nothing was registered');
    }));

  it('reports and stores compatibility levels (never enforced)', () =>
    withRegistry(async (reg) => {
      assert.deepEqual((await call(reg, 'GET', '/config')).body, { compatibilityLevel: 'BACKWARD' });
      assert.equal((await call(reg, 'GET', '/config/a-value')).body.error_code, 40408);
      assert.deepEqual((await call(reg, 'PUT', '/config/a-value', { compatibility: 'none' })).body, {
        compatibility: 'NONE',
      });
      assert.deepEqual((await call(reg, 'GET', '/config/a-value')).body, { compatibilityLevel: 'NONE' });
      assert.equal((await call(reg, 'PUT', '/config/a-value', { compatibility: 'SIDEWAYS' })).status, 422);
    }));

  it('with credentials, refuses requests without them (401, 40101)', () =>
    withRegistry(
      async (reg) => {
        const none = await call(reg, 'GET', '/subjects');
        assert.equal(none.status, 401);
        assert.equal(none.body.error_code, 40101);
        const wrong = await call(reg, 'GET', '/subjects', undefined, {
          authorization: `Basic ${Buffer.from('user:nope').toString('base64')}`,
        });
        assert.equal(wrong.status, 401);
        const right = await call(reg, 'GET', '/subjects', undefined, {
          authorization: `Basic ${Buffer.from('user:pw').toString('base64')}`,
        });
        assert.equal(right.status, 200);
      },
      { auth: { username: 'user', password: 'pw' } },
    ));

  it('restarted on the same port with the same store, keeps every id; closed, it does not answer', async () => {
    const first = await startSchemaRegistry();
    const { body } = await call(first, 'POST', '/subjects/a-value/versions', { schema: recordSchema });
    await first.close();
    await first.close(); // idempotent
    await assert.rejects(fetch(`${first.url}/subjects`));
    const second = await startSchemaRegistry({ port: first.port, store: first.store });
    try {
      assert.equal(second.url, first.url);
      assert.deepEqual((await call(second, 'GET', `/schemas/ids/${String(body.id)}`)).body, { schema: recordSchema });
    } finally {
      await second.close();
    }
  });
});
