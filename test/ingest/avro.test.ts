import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { ConfigError, RecordError, SyncError } from '../../src/domain/errors.js';
import { parseMembershipChange } from '../../src/domain/event.js';
import { AvroDecoder, RegistryUnavailableError, toPlain } from '../../src/ingest/avro.js';
import { isWireFormat } from '../../src/ingest/decode.js';
import { startSchemaRegistry, type SchemaRegistrySim } from '../../packages/ac-simulator/src/registry.js';

const avsc = readFileSync(new URL('../../../schemas/membership-change.avsc', import.meta.url), 'utf8');

const event = {
  eventId: 'e-1',
  occurredAt: '2026-11-28T10:00:00Z',
  segmentId: 'vip',
  op: 'add',
  profile: {
    id: 'p-1',
    email: ' Ann@Example.COM ',
    firstName: 'Ann',
    lastName: null,
    phone: null,
    attributes: { tier: 'gold', ltv: 12.5, vip: true, note: null },
  },
};

let reg: SchemaRegistrySim;
let producer: SchemaRegistry;
let id: number;
let encoded: Buffer;

before(async () => {
  reg = await startSchemaRegistry();
  producer = new SchemaRegistry({ host: reg.url });
  ({ id } = await producer.register({ type: SchemaType.AVRO, schema: avsc }, { subject: 'membership-change-value' }));
  encoded = await producer.encode(id, event);
});
after(() => reg.close());

const decoder = (url = reg.url, extra: Partial<ConstructorParameters<typeof AvroDecoder>[0]> = {}, maxBytes = 65_536) =>
  new AvroDecoder({ url, timeoutMs: 1_000, ...extra }, maxBytes);

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<SyncError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SyncError, `expected a SyncError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the decode to fail');
}

function withId(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('AvroDecoder', () => {
  it('round-trips the wire format and gives the value the JSON path would give', async () => {
    assert.ok(isWireFormat(encoded));
    assert.equal(encoded.readInt32BE(1), id);
    const value = await decoder().decode(encoded);
    assert.equal(Object.getPrototypeOf(value), Object.prototype, 'a plain object, not an avsc record');
    assert.deepEqual(value, event);
    const fromAvro = parseMembershipChange(value);
    const fromJson = parseMembershipChange(JSON.parse(JSON.stringify(event)));
    assert.ok(fromAvro.ok);
    assert.deepEqual(fromAvro, fromJson);
    assert.equal(fromAvro.change.profile.email, 'ann@example.com');
  });

  it('decodes unions and maps as plain values: nulls, strings, numbers, booleans', async () => {
    const bare = {
      ...event,
      profile: {
        id: 'p-2',
        email: 'b@example.com',
        firstName: null,
        lastName: 'Bee',
        phone: '+1 555',
        attributes: null,
      },
    };
    const value = (await decoder().decode(await producer.encode(id, bare))) as typeof bare;
    assert.deepEqual(value, bare);
    const parsed = parseMembershipChange(value);
    assert.ok(parsed.ok);
    assert.equal(parsed.change.profile.firstName, undefined);
    assert.equal(parsed.change.profile.attributes, undefined);
  });

  it('fetches a schema once, then decodes it while the registry is away', async () => {
    const own = await startSchemaRegistry({ store: reg.store });
    const d = decoder(own.url);
    await d.decode(encoded);
    const fetched = own.counters.byRoute['GET /schemas/ids/{id}'];
    await d.decode(encoded);
    assert.equal(own.counters.byRoute['GET /schemas/ids/{id}'], fetched);
    await own.close();
    assert.deepEqual(await d.decode(encoded), event);
  });

  it('dead-letters an unknown schema id: RecordError(decode, UNKNOWN_SCHEMA)', async () => {
    const err = await failure(decoder().decode(withId(4242, encoded.subarray(5))));
    assert.ok(err instanceof RecordError);
    assert.equal(err.stage, 'decode');
    assert.equal(err.code, 'UNKNOWN_SCHEMA');
    assert.equal(err.retriable, false);
    assert.match(err.message, /4242/);
  });

  it('dead-letters bytes that do not fit the schema: truncated, trailing bytes, bad enum index', async () => {
    const truncated = encoded.subarray(0, encoded.length - 4);
    const trailing = Buffer.concat([encoded, Buffer.from([2, 4, 6])]);
    // eventId, occurredAt and segmentId are empty strings (length 0), then the enum index 7 (zig-zag 14).
    const badEnum = withId(id, Buffer.from([0, 0, 0, 14]));
    for (const [what, bytes] of [
      ['truncated', truncated],
      ['trailing', trailing],
      ['bad enum', badEnum],
    ] as const) {
      const err = await failure(decoder().decode(bytes));
      assert.ok(err instanceof RecordError, what);
      assert.equal(err.stage, 'decode', what);
      assert.equal(err.code, 'AVRO_INVALID', what);
    }
  });

  it('dead-letters a record over the size limit (TOO_LARGE) and a schema that is not Avro', async () => {
    const big = await failure(decoder(reg.url, {}, 1_024).decode(withId(id, Buffer.alloc(2_000))));
    assert.equal(big.code, 'TOO_LARGE');
    const res = await fetch(`${reg.url}/subjects/json-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify({ type: 'object' }) }),
    });
    const { id: jsonId } = (await res.json()) as { id: number };
    const err = await failure(decoder().decode(withId(jsonId, Buffer.from('{}'))));
    assert.ok(err instanceof RecordError);
    assert.equal(err.code, 'UNSUPPORTED_SCHEMA_TYPE');
  });

  it('a registry that is down is a retriable RegistryUnavailableError, never a RecordError', async () => {
    const gone = await startSchemaRegistry({ store: reg.store });
    await gone.close();
    const err = await failure(decoder(gone.url).decode(encoded));
    assert.ok(err instanceof RegistryUnavailableError);
    assert.ok(!(err instanceof RecordError));
    assert.equal(err.retriable, true);
    assert.equal(err.code, 'REGISTRY_UNAVAILABLE');
  });

  it('a registry that answers 5xx, or does not answer in time, is retriable too', async () => {
    const failing = createServer((_req, res) => res.writeHead(503).end('{"error_code":50301,"message":"down"}'));
    const sockets = new Set<Socket>();
    const silent = createTcpServer((s) => sockets.add(s)); // accepts, never answers
    try {
      const e503 = await failure(decoder(await listen(failing)).decode(encoded));
      assert.ok(e503 instanceof RegistryUnavailableError);
      const slow = await failure(
        new AvroDecoder({ url: await listen(silent), timeoutMs: 200 }, 65_536).decode(encoded),
      );
      assert.ok(slow instanceof RegistryUnavailableError);
      assert.equal(slow.code, 'REGISTRY_UNAVAILABLE');
    } finally {
      for (const s of sockets) s.destroy();
      failing.closeAllConnections();
      await Promise.all([new Promise((r) => failing.close(r)), new Promise((r) => silent.close(r))]);
    }
  });

  it('sends basic credentials; refused credentials are retriable (REGISTRY_UNAUTHORIZED), not a dead-letter', async () => {
    const secured = await startSchemaRegistry({ store: reg.store, auth: { username: 'svc', password: 's3cret' } });
    try {
      assert.deepEqual(
        await decoder(secured.url, { username: 'svc', password: { value: 's3cret' } }).decode(encoded),
        event,
      );
      const err = await failure(
        decoder(secured.url, { username: 'svc', password: { value: 'wrong' } }).decode(encoded),
      );
      assert.ok(err instanceof RegistryUnavailableError);
      assert.equal(err.code, 'REGISTRY_UNAUTHORIZED');
    } finally {
      await secured.close();
    }
  });

  it('check(): passes for a registry, a config error for a wrong path or refused credentials, retriable when down', async () => {
    await decoder(`${reg.url}/`).check();
    await assert.rejects(
      decoder(`${reg.url}/not-the-api`).check(),
      (err) => err instanceof ConfigError && err.key === 'schemaRegistry.url',
    );
    const secured = await startSchemaRegistry({ auth: { username: 'svc', password: 's3cret' } });
    await assert.rejects(
      decoder(secured.url).check(),
      (err) => err instanceof ConfigError && err.key === 'schemaRegistry.password',
    );
    await secured.close();
    await assert.rejects(
      decoder(secured.url).check(),
      (err) => err instanceof RegistryUnavailableError && err.retriable,
    );
  });

  it('toPlain copies class instances into plain objects and leaves bytes alone', () => {
    class Rec {
      constructor(readonly a: unknown) {}
    }
    const bytes = Buffer.from([1, 2]);
    assert.deepEqual(toPlain(new Rec([new Rec(1), null])), { a: [{ a: 1 }, null] });
    assert.equal(toPlain(bytes), bytes);
  });
});
