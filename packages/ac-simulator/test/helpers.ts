import type { Simulator } from '../src/index.js';

/** Small helpers for tests that talk to a real simulator over real sockets. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests walk JSON answers by path and assert on what they find
  body: any;
}

export interface CallOptions {
  body?: unknown;
  /** Raw body, sent as is. */
  raw?: string;
  /** Api-Token; null = none. Defaults to the simulator's token. */
  token?: string | null;
}

export async function call(sim: Simulator, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = opts.token === undefined ? sim.options.apiToken : opts.token;
  if (token !== null) headers['api-token'] = token;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sim.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

export const api = (sim: Simulator, method: string, path: string, opts?: CallOptions): Promise<Answer> =>
  call(sim, method, `/api/3${path}`, opts);

/** Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5_000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function contacts(n: number, prefix = 'person'): Array<{ email: string; subscribe: Array<{ listid: string }> }> {
  return Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.com`, subscribe: [{ listid: '1' }] }));
}

/** The /import/info answer once the import reached a terminal state. */
// biome-ignore lint/suspicious/noExplicitAny: an Answer body, read by path like the others
export async function finished(sim: Simulator, batchId: string): Promise<any> {
  return waitFor(`import ${batchId} to finish`, async () => {
    const info = await api(sim, 'GET', `/import/info?batchId=${batchId}`);
    return ['completed', 'failed', 'interrupted'].includes(info.body?.status) ? info.body : undefined;
  });
}
