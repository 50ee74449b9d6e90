import { ApiError } from '../domain/errors.js';
import { maskEmailsIn } from '../observability/logger.js';

/** What to do with an ActiveCampaign answer (CONTRACT.md §5). */
export type Verdict =
  | { kind: 'ok' }
  /** Wait, then send again: the account's budget (429, bulk "Rate limit exceeded."). */
  | { kind: 'throttled'; retryAfterMs: number; code: string }
  /** The whole account is failing (5xx, network, timeout, bad token): pause and back off; dead-letter nothing. */
  | { kind: 'account'; code: string; message: string }
  /** Bulk import validation: the request was refused whole; these contact indexes (base unknown) were named. */
  | { kind: 'invalid-contacts'; indexes: number[]; reasons: string[] }
  /** A 400 of a shape we do not know (a string index we cannot use, no index at all): bisect; `body` is masked. */
  | { kind: 'invalid-unnamed'; body: string }
  /** The request itself is wrong for good: dead-letter what it carried. */
  | { kind: 'reject'; code: 'REJECTED' | 'NOT_FOUND'; message: string };

const BULK_RATE_LIMIT_WAIT_MS = 60_000;

/** Retry-After is seconds (decimals accepted, as the simulator sends when time-scaled) or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function classifyResponse(status: number, body: unknown, retryAfter: string | undefined, now: number): Verdict {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (status === 429) {
    return { kind: 'throttled', retryAfterMs: parseRetryAfter(retryAfter, now) ?? 1_000, code: 'RATE_LIMITED' };
  }
  if (status === 401 || status === 403)
    return { kind: 'account', code: 'AUTH_FAILED', message: `HTTP ${status}: the API token was refused` };
  if (status >= 500 || status === 408) return { kind: 'account', code: 'SERVER_ERROR', message: `HTTP ${status}` };
  const message = typeof b.message === 'string' ? b.message : '';
  const reasons = Array.isArray(b.failureReasons) ? b.failureReasons : [];
  if (status === 400 && /rate limit exceeded/i.test(message)) {
    return { kind: 'throttled', retryAfterMs: BULK_RATE_LIMIT_WAIT_MS, code: 'BULK_RATE_LIMITED' };
  }
  // The documented shape names contacts by a numeric index; a string holding a number is read the same way.
  const indexOf = (r: unknown): number | undefined => {
    const c = typeof r === 'object' && r !== null ? (r as { contact?: unknown }).contact : undefined;
    if (typeof c === 'number' && Number.isInteger(c)) return c;
    return typeof c === 'string' && /^\d+$/.test(c.trim()) ? Number(c) : undefined;
  };
  const indexed = reasons.filter((r) => indexOf(r) !== undefined);
  if (status === 400 && indexed.length > 0) {
    return {
      kind: 'invalid-contacts',
      indexes: indexed.map((r) => indexOf(r)!),
      // Each reason goes into its contact's dead letter: an email ActiveCampaign quotes in it is masked.
      reasons: indexed.map((r) => maskEmailsIn(String((r as { failureReason?: unknown }).failureReason ?? 'invalid'))),
    };
  }
  // A validation 400 that names no contact we can find (reasons as objects without a usable index, or the
  // validation message alone): the batch is bisected before anything is dead-lettered, and the raw body (emails
  // masked) goes into the letter's reason. String reasons (too large, bad JSON) refuse the request itself.
  const validation =
    reasons.some((r) => typeof r === 'object' && r !== null) || /did not pass validation/i.test(message);
  if (status === 400 && validation) return { kind: 'invalid-unnamed', body: maskBody(body) };
  const detail = message || reasons.map(String).join('; ') || JSON.stringify(body ?? '').slice(0, 200);
  const code = status === 404 ? 'NOT_FOUND' : 'REJECTED';
  return { kind: 'reject', code, message: `HTTP ${status}: ${maskEmailsIn(detail)}` };
}

/** A transport failure (no answer at all) is an account-level condition: retry with backoff. */
export function classifyTransportError(err: unknown): Verdict {
  const code = (err as { code?: string }).code ?? 'NETWORK';
  const timeout = /TIMEOUT/i.test(code) || (err as Error).name === 'TimeoutError';
  return { kind: 'account', code: timeout ? 'TIMEOUT' : 'NETWORK', message: `${code}: ${(err as Error).message}` };
}

export function toApiError(v: Exclude<Verdict, { kind: 'ok' }>, status: number): ApiError {
  switch (v.kind) {
    case 'throttled':
      return new ApiError(v.code, `throttled for ${v.retryAfterMs} ms`, true, status, v.retryAfterMs);
    case 'account':
      return new ApiError(v.code, v.message, true, status);
    case 'invalid-contacts':
      return new ApiError('INVALID_CONTACTS', v.reasons.join('; '), false, status);
    case 'invalid-unnamed':
      return new ApiError('INVALID_CONTACTS', v.body, false, status);
    case 'reject':
      return new ApiError(v.code, v.message, false, status);
  }
}

/** A raw answer body for a dead letter's reason: at most 500 characters, every email masked (a***@e***.com). */
export function maskBody(body: unknown): string {
  const raw = typeof body === 'string' ? body : (JSON.stringify(body ?? null) ?? '');
  // The logs' masking (any run around an "@"): an address followed by "." or "}" was left whole by a narrower one.
  return maskEmailsIn(raw).slice(0, 500);
}
