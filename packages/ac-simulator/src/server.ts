import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatSeconds, readBody, writeReply, type Reply, type RequestBody } from './http.js';
import { catalogRoutes } from './routes/catalog.js';
import { contactRecordRoutes } from './routes/contact-record.js';
import { contactRoutes } from './routes/contacts.js';
import { control } from './routes/control.js';
import { importRoutes } from './routes/imports.js';
import type { Route } from './routes/route.js';
import { tagRoutes } from './routes/tags.js';
import type { SimState } from './state.js';

/**
 * The HTTP edge. Every /api/3 request goes through, in order:
 *   count (requests, byEndpoint) → outage / injected 503 → Api-Token (403) → requests-per-second budget (429)
 *   → route handler → RateLimit-* headers → count (byStatus) → latency → write.
 * So 503 and 403 answers take no token, and 503, 403 and 429 answers never reach the bulk import budget.
 */
const API = '/api/3';

const routes = [...contactRoutes, ...contactRecordRoutes, ...catalogRoutes, ...importRoutes, ...tagRoutes].map(
  (route) => ({
    route,
    pattern: new RegExp(`^${route.template.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`),
  }),
);

function match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  for (const { route, pattern } of routes) {
    if (route.method !== method) continue;
    const m = pattern.exec(path);
    if (m) return { route, params: { ...m.groups } };
  }
  return undefined;
}

/** RateLimit-* headers, on every answer, only on 429s or never (rateLimitHeaders [UNCONFIRMED]). */
function rateHeaders(state: SimState, remaining: number, is429 = false): Record<string, string> {
  const { requestsPerSecond } = state.options.limits;
  const which = state.options.rateLimitHeaders;
  if (which === 'none' || (which === '429-only' && !is429)) return {};
  return {
    'ratelimit-limit': String(Number((requestsPerSecond * state.options.timeScale).toFixed(3))),
    'ratelimit-remaining': String(remaining),
  };
}

function api(state: SimState, req: IncomingMessage, url: URL, body: RequestBody, now: number): Reply {
  const method = req.method ?? 'GET';
  const path = url.pathname.slice(API.length).replace(/\/+$/, '') || '/';
  const found = match(method, path);
  const counters = state.counters;
  counters.requests++;
  const endpoint = found ? `${method} ${found.route.template}` : `${method} (unknown route)`;
  counters.byEndpoint[endpoint] = (counters.byEndpoint[endpoint] ?? 0) + 1;

  const reply = decide();
  counters.byStatus[reply.status] = (counters.byStatus[reply.status] ?? 0) + 1;
  return reply;

  function decide(): Reply {
    const o = state.options;
    if (o.unavailable || (o.errorRate503 > 0 && state.random() < o.errorRate503)) {
      counters.unavailable503++;
      return { status: 503, headers: rateHeaders(state, state.limiter.remaining(now)) };
    }
    if (req.headers['api-token'] !== o.apiToken) {
      // [UNCONFIRMED] body; 'none' mimics the 403 without Content-Type seen in the wild (CONTRACT §5).
      return {
        status: 403,
        body: o.forbiddenBody === 'json' ? { message: 'Forbidden' } : undefined,
        headers: rateHeaders(state, state.limiter.remaining(now)),
      };
    }
    const admission = state.limiter.admit(now, req.headers['user-agent'] ?? '');
    if (!admission.ok) {
      counters.rateLimited429++;
      const headers = { ...rateHeaders(state, 0, true), 'retry-after': formatSeconds(admission.retryAfterMs) };
      return {
        status: 429,
        body: o.tooManyRequestsBody === 'json' ? { message: 'Too Many Requests' } : undefined,
        headers,
      };
    }
    const headers = rateHeaders(state, admission.remaining);
    if (!found) return { status: 404, body: { message: `No route ${method} ${API}${path}` }, headers };
    const reply = found.route.handler(state, { method, url, params: found.params, body, admission, now });
    return { ...reply, headers: { ...reply.headers, ...headers } };
  }
}

/** `arrived`: when the request's head was parsed, before its body was read; limits are judged at that time. */
async function handle(state: SimState, req: IncomingMessage, res: ServerResponse, arrived: number): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  const body = await readBody(req);
  state.imports.settle();
  if (url.pathname.startsWith('/__sim/'))
    return writeReply(res, control(state, req.method ?? 'GET', url.pathname, body));
  if (url.pathname !== API && !url.pathname.startsWith(`${API}/`)) {
    return writeReply(res, {
      status: 404,
      body: { message: `Not found: the API lives under ${API}, the simulator controls under /__sim` },
    });
  }
  const reply = api(state, req, url, body, arrived);
  const latency = state.scaled(state.options.latencyMs);
  if (latency > 0) await sleep(latency);
  writeReply(res, reply);
}

export function createSimServer(state: SimState): Server {
  return createServer((req, res) => {
    handle(state, req, res, state.clock()).catch((err: unknown) => {
      process.stderr.write(
        `simulator: internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}\n`,
      );
      if (!res.headersSent) writeReply(res, { status: 500, body: { message: 'Internal simulator error' } });
      else res.destroy();
    });
  });
}
