import { listen } from './listen.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ReadinessStatus } from './readiness.js';

/**
 * The operator's HTTP server (node:http, no framework):
 *   GET /metrics  the service's Prometheus registry
 *   GET /healthz  200 while the process runs and its event loop keeps up (worst delay of the last window under
 *                 `maxEventLoopDelayMs`), else 503: a liveness probe restarts a process that is wedged
 *   GET /readyz   200 {"ready":true} or 503 {"ready":false,"reasons":[...]}: connected to Kafka, every account's
 *                 token accepted, nothing fatal (see readiness.ts)
 */
export interface HttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  readiness: () => ReadinessStatus;
  log: Logger;
  /** Default 5,000 ms. */
  maxEventLoopDelayMs?: number;
}

export interface HttpServer {
  readonly port: number;
  /** Idempotent. */
  close(): Promise<void>;
}

const WINDOW_MS = 10_000;

export async function startHttpServer(o: HttpServerOptions): Promise<HttpServer> {
  const bound = o.maxEventLoopDelayMs ?? 5_000;
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let previousMaxMs = 0;
  const rotate = setInterval(() => {
    previousMaxMs = delay.max / 1e6;
    delay.reset();
  }, WINDOW_MS).unref();

  const health = () => {
    const worstMs = Math.max(previousMaxMs, delay.max / 1e6);
    return {
      ok: worstMs < bound,
      body: {
        alive: true,
        eventLoopDelayMaxMs: Math.round(worstMs),
        boundMs: bound,
        uptimeSeconds: Math.round(process.uptime()),
      },
    };
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.log.warn({ err: (err as Error).message, path: req.url }, 'An observability request failed');
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: 'internal error' }));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'application/json', JSON.stringify({ error: 'GET only' }), { allow: 'GET, HEAD' });
    switch (path) {
      case '/metrics':
        return send(res, 200, o.registry.contentType, await o.registry.metrics());
      case '/healthz': {
        const h = health();
        return send(res, h.ok ? 200 : 503, 'application/json', JSON.stringify(h.body));
      }
      case '/readyz': {
        const r = o.readiness();
        return send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify(r.ready ? { ready: true } : r));
      }
      default:
        return send(
          res,
          404,
          'application/json',
          JSON.stringify({ error: `no route ${path}; try /metrics, /healthz or /readyz` }),
        );
    }
  }

  const port = await listen(server, o.port, o.host);
  o.log.info({ host: o.host, port }, 'Serving /metrics, /healthz and /readyz');

  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= (async () => {
        clearInterval(rotate);
        delay.disable();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      })()),
  };
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
