import { listen } from '../observability/listen.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { parseUnsubscribe, TokenBucket } from './webhook.js';

/**
 * The opt-out webhook's own HTTP server (node:http), apart from the operator's /metrics server: this one faces
 * ActiveCampaign, so it goes behind a public ingress, and /metrics and /readyz must not. One route:
 *
 *   POST /webhooks/activecampaign/<connection>/<token>   form-encoded `unsubscribe` webhook (webhook.ts)
 *
 * AC signs nothing, so the secret token in the URL registered with AC is the authentication (compared in constant
 * time). Every refusal is a 4xx other than 410, which would make AC deactivate the webhook for good: 401 no token,
 * 403 a wrong one, 404 another path or connection, 405 not POST, 413 over `maxBodyBytes`, 415 not form-encoded,
 * 400 malformed, 429 over the rate. A well-formed webhook that is not the person's own opt-out is answered 200 and
 * counted (AC need not send it again). 503 when the record cannot be written (AC does not retry: the consent
 * table stays the safety net). Nothing a request does can end the process: every handler path is caught.
 */
export interface WebhookServerOptions {
  host: string;
  port: number;
  /** The connections of the config: the URL names one. */
  connections: ReadonlySet<string>;
  /** The secret token (read on every request, so a rotated file is picked up). */
  token: () => string;
  maxBodyBytes: number;
  ratePerSecond: number;
  burst: number;
  /** Writes the opt-out; resolves once it is durable. */
  record(connection: string, email: string, listId: string, at: number): Promise<void>;
  writeTimeoutMs?: number;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
}

export interface WebhookServer {
  readonly port: number;
  close(): Promise<void>;
}

const PREFIX = '/webhooks/activecampaign/';

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly result: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const bucket = new TokenBucket(o.ratePerSecond, o.burst, o.now);
  const server = createServer((req, res) => {
    handle(req, res).then(
      (result) => {
        o.metrics.consentWebhooks.inc({ result });
        reply(res, 200, { ok: true, result });
      },
      (err: unknown) => {
        const r = err instanceof Refusal ? err : new Refusal(503, 'failed', 'the opt-out could not be recorded now');
        if (!(err instanceof Refusal))
          o.log.warn(
            { err: (err as Error).message },
            'An opt-out webhook could not be recorded (ActiveCampaign ' +
              'does not retry: the consent table stays the safety net)',
          );
        o.metrics.consentWebhooks.inc({ result: r.result });
        reply(res, r.status, { ok: false, error: r.message }, r.status === 413);
      },
    );
  });
  // A malformed request line or headers: answer 400 and drop the socket, never an uncaught error.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    req.on('error', () => undefined); // an aborted upload rejects the body read below; it must not crash
    res.on('error', () => undefined);
    if (!bucket.take()) throw new Refusal(429, 'rate_limited', 'too many requests');
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(PREFIX)) throw new Refusal(404, 'not_found', 'no such route');
    const [connection, token, ...rest] = path.slice(PREFIX.length).split('/');
    if (!connection || rest.length > 0) throw new Refusal(404, 'not_found', 'no such route');
    if (req.method !== 'POST') throw new Refusal(405, 'method', 'POST only');
    if (!token) throw new Refusal(401, 'unauthorized', 'the URL needs the secret token');
    if (!sameSecret(decodeURIComponentSafe(token), o.token())) throw new Refusal(403, 'unauthorized', 'wrong token');
    if (!o.connections.has(connection)) throw new Refusal(404, 'not_found', 'no such connection');
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      throw new Refusal(415, 'malformed', 'the body must be application/x-www-form-urlencoded');
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > o.maxBodyBytes)
      throw new Refusal(413, 'too_large', `the body is over ${o.maxBodyBytes} bytes`);
    const body = await readBody(req, o.maxBodyBytes);
    const parsed = parseUnsubscribe(body);
    if (parsed.kind === 'malformed') throw new Refusal(400, 'malformed', parsed.problem);
    if (parsed.kind === 'ignored') return parsed.reason;
    await withTimeout(o.record(connection, parsed.email, parsed.listId, parsed.at), o.writeTimeoutMs ?? 10_000);
    return 'recorded';
  }

  const port = await listen(server, o.port, o.host);
  // The URL holds the token: it is never logged, only the route's shape.
  o.log.info({ host: o.host, port }, `Serving the opt-out webhook at POST ${PREFIX}<connection>/<token>`);
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      })()),
  };
}

/** Constant-time comparison of two secrets of any length (their digests are compared). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Refusal(413, 'too_large', `the body is over ${limit} bytes`));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => reject(new Refusal(400, 'malformed', 'the body was not received whole')));
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`not acknowledged within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(JSON.stringify(body));
}
