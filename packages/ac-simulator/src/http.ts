import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a route answers; the server adds the RateLimit-* headers, latency and counting. */
export interface Reply {
  status: number;
  /** JSON-serialised; undefined = no body and no Content-Type. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RequestBody {
  /** Size of the whole body as received. */
  bytes: number;
  /** The body, or its first HARD_CAP bytes when `truncated`. */
  buffer: Buffer;
  truncated: boolean;
}

/** Bodies are read whole (so keep-alive connections stay usable) but kept only up to this size. */
const HARD_CAP = 8 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    if (bytes + b.length <= HARD_CAP) chunks.push(b);
    bytes += b.length;
  }
  return { bytes, buffer: Buffer.concat(chunks), truncated: bytes > HARD_CAP };
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

export function parseJson(body: RequestBody): Parsed {
  if (body.truncated) return { ok: false, error: 'the request body is too large' };
  if (body.bytes === 0) return { ok: false, error: 'the request body is empty' };
  try {
    return { ok: true, value: JSON.parse(body.buffer.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, error: `the request body is not valid JSON (${(err as Error).message})` };
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string, or a finite number turned into one; undefined otherwise. AC write bodies accept both (CONTRACT §3). */
export function scalarString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** limit (default `def`, at most 100) and offset, as AC pages (CONTRACT §3). */
export function paging(q: URLSearchParams, def: number): { limit: number; offset: number } {
  const limit = Number.parseInt(q.get('limit') ?? '', 10);
  const offset = Number.parseInt(q.get('offset') ?? '', 10);
  return {
    limit: Number.isFinite(limit) && limit > 0 ? Math.min(limit, 100) : def,
    offset: Number.isFinite(offset) && offset > 0 ? offset : 0,
  };
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, body, headers } : { status, body };
}

export function writeReply(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: Buffer | undefined;
  if (reply.body !== undefined) {
    payload = Buffer.from(JSON.stringify(reply.body), 'utf8');
    headers['content-type'] = 'application/json';
  }
  headers['content-length'] = String(payload?.length ?? 0);
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** Seconds for a header: an integer when whole, otherwise a decimal with up to 3 digits (at least 0.001). */
export function formatSeconds(ms: number): string {
  const seconds = Math.max(0.001, Math.round(ms) / 1000);
  return Number(seconds.toFixed(3)).toString();
}
