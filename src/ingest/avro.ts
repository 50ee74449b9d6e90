import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config/schema.js';
import { secretReader } from '../config/secret.js';
import { ConfigError, RecordError, SyncError } from '../domain/errors.js';
import type { WireDecoder } from './decode.js';

/**
 * Avro records in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary), decoded with
 * the writer schema the registry holds for the id (@kafkajs/confluent-schema-registry caches each id after its
 * first fetch). The result has the shape the JSON path produces: plain objects, nullable unions as plain values,
 * Avro maps as objects, so parseMembershipChange validates both alike.
 *
 * Who is to blame decides what happens:
 *   - the record: an id the registry does not know (404), a schema that is not Avro or cannot be parsed, or bytes
 *     that do not fit the schema → RecordError('decode'): the pipeline dead-letters it;
 *   - the registry: no answer, a timeout, 5xx, refused credentials → RegistryUnavailableError (retriable): the
 *     pipeline stops the batch there and the consumer pauses the partition and tries again later. Never a
 *     dead-letter, so an outage costs time and nothing else.
 */
export type RegistryConfig = NonNullable<Config['schemaRegistry']>;

/** The registry did not answer usefully; retry later, the record is not at fault. */
export class RegistryUnavailableError extends SyncError {
  constructor(code: 'REGISTRY_UNAVAILABLE' | 'REGISTRY_UNAUTHORIZED', message: string, cause?: unknown) {
    super(code, message, true, { cause });
  }
}

type Middleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

/** What the registry client throws for an HTTP answer other than 2xx (a network failure arrives as status 400). */
interface ResponseError extends Error {
  status: number;
}
const isResponseError = (err: unknown): err is ResponseError =>
  err instanceof Error && err.name === 'ResponseError' && typeof (err as ResponseError).status === 'number';

export class AvroDecoder implements WireDecoder {
  private readonly registry: SchemaRegistry;
  private readonly authorization: (() => string) | undefined;

  constructor(
    private readonly config: RegistryConfig,
    private readonly maxBytes: number,
  ) {
    const { username, password } = config;
    if (username !== undefined && password !== undefined) {
      const secret = secretReader(password, 'schemaRegistry.password');
      this.authorization = () => `Basic ${Buffer.from(`${username}:${secret()}`).toString('base64')}`;
    }
    // No retries inside the client: a fetch runs inside a Kafka batch, so one bounded attempt, then the partition
    // pauses and the whole record is tried again later.
    this.registry = new SchemaRegistry({
      host: config.url.replace(/\/+$/, ''),
      clientId: 'ac-list-sync',
      retry: { retries: 0 },
      middlewares: [this.requestMiddleware()],
    });
  }

  async decode(value: Buffer): Promise<unknown> {
    if (value.length > this.maxBytes)
      throw new RecordError(
        'decode',
        'TOO_LARGE',
        `the record value is ${value.length} bytes, over the ${this.maxBytes}-byte limit`,
      );
    const id = value.readInt32BE(1);
    await this.writerSchema(id);
    let decoded: unknown;
    try {
      decoded = await this.registry.decode(value);
    } catch (err) {
      throw new RecordError(
        'decode',
        'AVRO_INVALID',
        `the record does not fit Avro schema ${id}: ${(err as Error).message}`,
      );
    }
    return toPlain(decoded);
  }

  /**
   * Start-up check: GET /config must answer as a schema registry does. A wrong URL or refused credentials are
   * config errors; no answer is RegistryUnavailableError, which the caller waits out.
   */
  async check(): Promise<void> {
    const url = `${this.config.url.replace(/\/+$/, '')}/config`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: this.authorization ? { authorization: this.authorization() } : {},
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
    } catch (err) {
      throw new RegistryUnavailableError(
        'REGISTRY_UNAVAILABLE',
        `the schema registry at ${this.config.url} does not answer: ${causeOf(err)}`,
        err,
      );
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (res.status === 401 || res.status === 403)
      throw new ConfigError(
        'schemaRegistry.password',
        `the schema registry refused the credentials (HTTP ${res.status})`,
      );
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      throw new RegistryUnavailableError(
        'REGISTRY_UNAVAILABLE',
        `the schema registry at ${this.config.url} answered HTTP ${res.status}`,
      );
    }
    if (!res.ok || typeof (body as { compatibilityLevel?: unknown } | undefined)?.compatibilityLevel !== 'string') {
      throw new ConfigError(
        'schemaRegistry.url',
        `${url} answered HTTP ${res.status} without a compatibility level: ` +
          'not a Confluent-compatible registry API (Apicurio serves one under /apis/ccompat/v7)',
      );
    }
  }

  /** Loads (or finds cached) the writer schema of `id`; classifies every failure as the record's or the registry's. */
  private async writerSchema(id: number): Promise<void> {
    try {
      await this.registry.getSchema(id);
    } catch (err) {
      if (isResponseError(err)) {
        if (err.status === 404)
          throw new RecordError('decode', 'UNKNOWN_SCHEMA', `the schema registry has no schema with id ${id}`);
        if (err.status === 401 || err.status === 403)
          throw new RegistryUnavailableError(
            'REGISTRY_UNAUTHORIZED',
            `the schema registry refused the credentials (HTTP ${err.status})`,
            err,
          );
        throw new RegistryUnavailableError(
          'REGISTRY_UNAVAILABLE',
          `the schema registry did not answer for schema ${id}: ${err.message}`,
          err,
        );
      }
      if (err instanceof Error && err.name.startsWith('ConfluentSchemaRegistry')) {
        throw new RecordError(
          'decode',
          'SCHEMA_UNUSABLE',
          `schema ${id} from the registry cannot be used: ${err.message}`,
        );
      }
      // Anything else is not known to be the record's fault: wait rather than dead-letter.
      throw new RegistryUnavailableError('REGISTRY_UNAVAILABLE', `fetching schema ${id} failed: ${causeOf(err)}`, err);
    }
    const type = this.registry.cache.getSchema(id)?.type;
    if (type !== SchemaType.AVRO)
      throw new RecordError(
        'decode',
        'UNSUPPORTED_SCHEMA_TYPE',
        `schema ${id} is ${type ?? 'of an unknown type'}; only Avro is decoded`,
      );
  }

  /** Per request: a timeout, and basic credentials read afresh (a rotated secret file is picked up). */
  private requestMiddleware(): Middleware {
    const timeout = this.config.timeoutMs;
    const authorization = this.authorization;
    return () => ({
      prepareRequest: (next) =>
        next().then((request) =>
          request.enhance(authorization ? { timeout, headers: { authorization: authorization() } } : { timeout }),
        ),
    });
  }
}

/** avsc records are class instances: copy them into plain objects, recursively (bytes stay Buffers). */
export function toPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toPlain(v);
  return out;
}

function causeOf(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
