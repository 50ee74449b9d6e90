import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isRecord, parseJson, readBody, type RequestBody } from './http.js';
import { COMPATIBILITY_LEVELS, SchemaStore, type SchemaType } from './registry-store.js';

/**
 * A schema registry for tests and local runs: the part of Confluent Schema Registry's REST API that producers
 * and consumers of the Confluent wire format use, over a real HTTP server (node:http). No Confluent-compatible
 * registry can be installed from the package registries this project's machines reach (see README), so the
 * tests run against this one.
 *
 *   POST /subjects/{subject}/versions         {schema, schemaType?} → {id}
 *   POST /subjects/{subject}                  {schema, schemaType?} → {subject, version, id, schema} (lookup)
 *   GET  /schemas/ids/{id}                    → {schema[, schemaType]}; 404 error_code 40403 for an unknown id
 *   GET  /subjects                            → [subject, …]
 *   GET  /subjects/{subject}/versions         → [1, 2, …]
 *   GET  /subjects/{subject}/versions/{v}     v = n | latest → {subject, version, id, schema[, schemaType]}
 *   GET  /config, GET|PUT /config/{subject}   compatibility level, stored but never enforced
 *
 * Answers are application/vnd.schemaregistry.v1+json with Confluent's error bodies ({error_code, message}).
 * With `auth`, every request needs HTTP basic credentials (401, error_code 40101, otherwise).
 * Restarting on the same port with the same `store` keeps every id, as a real registry would.
 */
export interface SchemaRegistryOptions {
  /** 0 (default) = any free port. */
  port?: number;
  host?: string;
  auth?: { username: string; password: string };
  /** Pass the store of a registry that was closed to restart it with the same schemas. */
  store?: SchemaStore;
}

export interface SchemaRegistrySim {
  /** e.g. http://127.0.0.1:8081 */
  readonly url: string;
  readonly port: number;
  readonly store: SchemaStore;
  /** Requests answered so far, by "METHOD /route" and by status. */
  readonly counters: { requests: number; byRoute: Record<string, number>; byStatus: Record<number, number> };
  /** Idempotent; open connections are cut, as when a registry process dies. */
  close(): Promise<void>;
}

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const ok = (body: unknown): Answer => ({ status: 200, body });
const fail = (status: number, code: number, message: string): Answer => ({
  status,
  body: { error_code: code, message },
});

export async function startSchemaRegistry(opts: SchemaRegistryOptions = {}): Promise<SchemaRegistrySim> {
  const store = opts.store ?? new SchemaStore();
  const counters: SchemaRegistrySim['counters'] = { requests: 0, byRoute: {}, byStatus: {} };
  const server = createServer((req, res) => void serve(req, res));

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://registry');
    const { route, answer } = authorised(req)
      ? handle(store, req.method ?? 'GET', url.pathname, body)
      : { route: 'auth', answer: fail(401, 40101, 'Unauthorized') };
    counters.requests++;
    counters.byRoute[route] = (counters.byRoute[route] ?? 0) + 1;
    counters.byStatus[answer.status] = (counters.byStatus[answer.status] ?? 0) + 1;
    const payload = Buffer.from(JSON.stringify(answer.body), 'utf8');
    res.writeHead(answer.status, {
      'content-type': REGISTRY_CONTENT_TYPE,
      'content-length': String(payload.length),
      ...answer.headers,
    });
    res.end(payload);
  }

  function authorised(req: IncomingMessage): boolean {
    if (!opts.auth) return true;
    const expected = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
    return req.headers.authorization === expected;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    store,
    counters,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

/** One request → (route name for counting, answer). Pure apart from changes to `store`. */
export function handle(
  store: SchemaStore,
  method: string,
  path: string,
  body: RequestBody,
): { route: string; answer: Answer } {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => safeDecode(p));
  const [head, a, b, c] = parts;
  const n = parts.length;
  if (head === 'schemas' && a === 'ids' && n === 3 && method === 'GET')
    return { route: 'GET /schemas/ids/{id}', answer: schemaById(store, b!) };
  if (head === 'subjects') {
    if (n === 1 && method === 'GET') return { route: 'GET /subjects', answer: ok(store.subjectNames()) };
    if (n === 2 && method === 'POST') return { route: 'POST /subjects/{subject}', answer: lookup(store, a!, body) };
    if (n === 3 && b === 'versions' && method === 'POST')
      return { route: 'POST /subjects/{subject}/versions', answer: register(store, a!, body) };
    if (n === 3 && b === 'versions' && method === 'GET') {
      const versions = store.versions(a!);
      return { route: 'GET /subjects/{subject}/versions', answer: versions ? ok(versions) : subjectNotFound(a!) };
    }
    if (n === 4 && b === 'versions' && method === 'GET')
      return { route: 'GET /subjects/{subject}/versions/{version}', answer: version(store, a!, c!) };
  }
  if (head === 'config') {
    if (n === 1 && method === 'GET')
      return { route: 'GET /config', answer: ok({ compatibilityLevel: store.globalCompatibility }) };
    if (n === 2 && method === 'GET') {
      const level = store.subjectCompatibility(a!);
      return {
        route: 'GET /config/{subject}',
        answer: level
          ? ok({ compatibilityLevel: level })
          : fail(404, 40408, `Subject '${a}' does not have subject-level compatibility configured`),
      };
    }
    if (n === 2 && method === 'PUT')
      return { route: 'PUT /config/{subject}', answer: setCompatibility(store, a!, body) };
  }
  return { route: 'unknown', answer: fail(404, 404, 'HTTP 404 Not Found') };
}

function schemaById(store: SchemaStore, raw: string): Answer {
  const id = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  const found = Number.isSafeInteger(id) ? store.schema(id) : undefined;
  if (!found) return fail(404, 40403, `Schema ${raw} not found`);
  return ok(
    found.schemaType === 'AVRO' ? { schema: found.schema } : { schema: found.schema, schemaType: found.schemaType },
  );
}

function version(store: SchemaStore, subject: string, raw: string): Answer {
  if (!store.hasSubject(subject)) return subjectNotFound(subject);
  const v = raw === 'latest' ? 'latest' : /^\d+$/.test(raw) ? Number(raw) : undefined;
  if (v === undefined) return fail(422, 42202, `The specified version '${raw}' is not a valid version id`);
  const found = store.version(subject, v);
  if (!found) return fail(404, 40402, `Version ${raw} not found.`);
  return ok(withType(found));
}

function register(store: SchemaStore, subject: string, body: RequestBody): Answer {
  const input = schemaInput(body);
  if ('answer' in input) return input.answer;
  const registered = store.register(subject, input.schema, input.schemaType);
  return registered.ok ? ok({ id: registered.id }) : fail(422, 42201, `Invalid schema: ${registered.reason}`);
}

function lookup(store: SchemaStore, subject: string, body: RequestBody): Answer {
  if (!store.hasSubject(subject)) return subjectNotFound(subject);
  const input = schemaInput(body);
  if ('answer' in input) return input.answer;
  const found = store.lookup(subject, input.schema, input.schemaType);
  return found ? ok(withType(found)) : fail(404, 40403, 'Schema not found');
}

function setCompatibility(store: SchemaStore, subject: string, body: RequestBody): Answer {
  const parsed = parseJson(body);
  const level = parsed.ok && isRecord(parsed.value) ? parsed.value.compatibility : undefined;
  if (typeof level !== 'string' || !COMPATIBILITY_LEVELS.includes(level.toUpperCase()))
    return fail(422, 42203, 'Invalid compatibility level');
  store.setSubjectCompatibility(subject, level.toUpperCase());
  return ok({ compatibility: level.toUpperCase() });
}

function schemaInput(body: RequestBody): { schema: string; schemaType: SchemaType } | { answer: Answer } {
  const parsed = parseJson(body);
  if (!parsed.ok) return { answer: fail(400, 400, parsed.error) };
  const value = parsed.value;
  if (!isRecord(value) || typeof value.schema !== 'string')
    return { answer: fail(422, 42201, 'Invalid schema: the body needs a "schema" string') };
  const type = value.schemaType ?? 'AVRO';
  if (type !== 'AVRO' && type !== 'JSON' && type !== 'PROTOBUF')
    return { answer: fail(422, 42201, `Invalid schema: unknown schemaType ${JSON.stringify(type)}`) };
  return { schema: value.schema, schemaType: type };
}

function withType<T extends { schemaType: SchemaType }>(v: T): Omit<T, 'schemaType'> | T {
  if (v.schemaType !== 'AVRO') return v;
  const { schemaType: _avro, ...rest } = v;
  return rest;
}

const subjectNotFound = (subject: string) => fail(404, 40401, `Subject '${subject}' not found.`);

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
